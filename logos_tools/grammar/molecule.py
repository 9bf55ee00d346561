"""Molecule codec: SMILES <-> ``<MoleculeS>SMILES<MoleculeE>``, checked and canonicalised by RDKit.

Policy (the LOGOS training SMILES form is not published, so it follows the profile):

- Parsing: RDKit ``MolFromSmiles`` then full sanitization; surrounding whitespace is dropped, inner
  whitespace is rejected (RDKit would silently read the rest as a molecule name).
- Canonical form: RDKit canonical isomeric SMILES. Stereo marks are kept when
  ``unpublished.smiles_stereo = "keep"`` and removed with ``"strip_stereo"``. Formal charges, isotopes,
  explicit counter-ions and salts are always kept as written: they are part of what the molecule is
  (and MOF nodes carry charges); nothing is neutralised or stripped. Atom maps are removed unless
  ``unpublished.reaction_atom_maps`` is true, so mapped reaction SMILES compare equal to plain ones.
- Prompts: ``unpublished.prompt_smiles = "canonical"`` writes the canonical form; ``"as_given"`` writes
  the user's string (RDKit's non-canonical rewrite of it when stereo must be stripped).
- RDKit never prints: its logs are blocked and its error text is captured into our error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import rdMolDescriptors

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.blocks import Stray, TaskMarker, check_no_tags, parse_blocks
from logos_tools.grammar.profile import Profile, load_profile

MAX_SMILES_LENGTH = 2000
_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
_POSITION = re.compile(r"check for mistakes around position (\d+)")


@dataclass(frozen=True)
class SmilesCheck:
    """The verdict on one SMILES (a model sample, a user value): never an exception."""

    input: str
    valid: bool
    canonical: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"input": self.input, "valid": self.valid, "canonical": self.canonical, "reason": self.reason}


@dataclass(frozen=True)
class DecodedMolecule:
    """One decoded molecule block: the SMILES as written, its canonical form and the RDKit molecule."""

    smiles: str
    canonical: str
    mol: Chem.Mol
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the RDKit molecule is summarised by formula, size and charge)."""
        return {
            "kind": "molecule",
            "smiles": self.smiles,
            "canonical": self.canonical,
            "formula": rdMolDescriptors.CalcMolFormula(self.mol),
            "heavy_atoms": self.mol.GetNumHeavyAtoms(),
            "formal_charge": Chem.GetFormalCharge(self.mol),
            "start": self.start,
            "end": self.end,
        }


@contextmanager
def rdkit_errors() -> Iterator[list[str]]:
    """Silence RDKit and collect its error-log lines (timestamps removed) into the yielded list."""
    lines: list[str] = []
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as capture:
        try:
            yield lines
        finally:
            try:
                messages = capture.messages
            except UnicodeDecodeError:  # RDKit echoes the input, which may hold bytes that are not UTF-8
                messages = "SMILES Parse Error: the text holds characters RDKit cannot read"
            lines.extend(_TIMESTAMP.sub("", line) for line in messages.splitlines() if line.strip())


def rdkit_reason(lines: list[str], fallback: str = "RDKit cannot read it") -> str:
    """Turn RDKit's captured log lines into one short reason (e.g. ``unclosed ring``)."""
    position = next((m.group(1) for line in lines if (m := _POSITION.search(line))), None)
    for line in lines:
        text = line.removeprefix("SMILES Parse Error: ")
        if "check for mistakes" in text or text.startswith("Failed parsing"):
            continue
        text = re.split(r" (?:for input|while parsing)\b", text, maxsplit=1)[0].strip().rstrip(":")
        if text:
            return f"{text} (around position {position})" if position else text
    return fallback


def _hint(reason: str) -> str:
    lowered = reason.lower()
    if "ring" in lowered and "unclosed" in lowered:
        return "Close every ring-bond digit you open, e.g. 'C1CC1'."
    if "parenthes" in lowered:
        return "Balance the parentheses, e.g. 'CC(C)O'."
    if "valence" in lowered:
        return "Check that atom's bonds and charge (e.g. a four-bonded nitrogen is written [N+])."
    if "kekulize" in lowered:
        return "Check the aromatic ring (e.g. write a pyrrole nitrogen as [nH]), or write it in Kekulé form."
    return "Pass a valid SMILES, e.g. 'CCO'."


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def check_smiles_text(value: str, what: str, profile: Profile | None) -> str:
    """Rules checked before RDKit: not empty, not too long, no tags or reaction arrows, no whitespace.

    Returns the value without surrounding whitespace.

    Raises:
        EncodeError: the value breaks one of those rules.
    """
    stripped = value.strip()
    if not stripped:
        raise EncodeError(f"The {what} is empty. Pass a SMILES string, e.g. 'CCO'.")
    if len(stripped) > MAX_SMILES_LENGTH:
        raise EncodeError(
            f"The {what} {_shorten(stripped)!r} has {len(stripped)} characters, more than the limit of "
            f"{MAX_SMILES_LENGTH}. Pass one molecule of ordinary size."
        )
    arrows = stripped.replace("->", "").replace("<-", "")  # dative bonds are SMILES, not tags
    if "<" in arrows or ">" in arrows:
        if ">>" in arrows or (">" in arrows and "<" not in arrows):
            raise EncodeError(
                f"The {what} {_shorten(stripped)!r} looks like a reaction SMILES ('>' is not allowed in a "
                "molecule). Pass one molecule, or encode it as a reaction ('A.B>>C')."
            )
        check_no_tags(stripped, what, profile or load_profile())
    space = re.search(r"\s", stripped)
    if space:
        raise EncodeError(
            f"The {what} {_shorten(stripped)!r} contains whitespace at position {space.start()}. "
            "A SMILES has no spaces; pass one SMILES without spaces or names."
        )
    return stripped


def parse_smiles(smiles: str, *, what: str = "SMILES", profile: Profile | None = None) -> Chem.Mol:
    """Parse and sanitize one SMILES with RDKit.

    ``what`` names the value in messages (e.g. ``"product SMILES"``); ``profile`` supplies the tags
    that are rejected (the shipped default when None).

    Raises:
        EncodeError: the value is empty, too long, holds tags or whitespace, or RDKit rejects it;
            the message names the value and RDKit's reason.
    """
    stripped = check_smiles_text(smiles, what, profile)
    with rdkit_errors() as lines:
        mol: Chem.Mol | None = Chem.MolFromSmiles(stripped, sanitize=False)
    if mol is None:
        reason = rdkit_reason(lines)
        raise EncodeError(f"{what} {_shorten(stripped)!r} is invalid: {reason}. {_hint(reason)}")
    try:
        with rdkit_errors():
            Chem.SanitizeMol(mol)
            # As MolFromSmiles does by default: explicit [H] atoms become implicit, so '[H]OC' == 'CO'.
            mol = Chem.RemoveHs(mol)
    except Chem.rdchem.MolSanitizeException as exc:
        reason = " ".join(str(exc).split()) or "RDKit sanitization failed"
        raise EncodeError(f"{what} {_shorten(stripped)!r} is invalid: {reason}. {_hint(reason)}") from None
    if mol.GetNumAtoms() == 0:
        raise EncodeError(f"{what} {_shorten(stripped)!r} has no atoms. Pass a SMILES, e.g. 'CCO'.")
    return mol


def mol_to_canonical(mol: Chem.Mol, profile: Profile) -> str:
    """Canonical SMILES of an RDKit molecule under the profile's stereo and atom-map policy."""
    work = Chem.Mol(mol)
    if not profile.unpublished.reaction_atom_maps:
        for atom in work.GetAtoms():
            atom.SetAtomMapNum(0)
    if profile.unpublished.smiles_stereo == "strip_stereo":
        Chem.RemoveStereochemistry(work)
    with rdkit_errors():
        return str(Chem.MolToSmiles(work))


def canonical_smiles(smiles: str, profile: Profile) -> str:
    """RDKit canonical SMILES of ``smiles`` under the profile's stereo and atom-map policy.

    Raises:
        EncodeError: the SMILES is invalid (see ``parse_smiles``).
    """
    return mol_to_canonical(parse_smiles(smiles, profile=profile), profile)


def prompt_smiles(smiles: str, profile: Profile, *, what: str = "SMILES") -> str:
    """The SMILES text written into a block: canonical or as given, per ``unpublished.prompt_smiles``.

    Raises:
        EncodeError: the SMILES is invalid (see ``parse_smiles``).
    """
    mol = parse_smiles(smiles, what=what, profile=profile)
    if profile.unpublished.prompt_smiles == "canonical":
        return mol_to_canonical(mol, profile)
    if profile.unpublished.smiles_stereo == "strip_stereo":
        Chem.RemoveStereochemistry(mol)
        with rdkit_errors():
            return str(Chem.MolToSmiles(mol, canonical=False))
    return smiles.strip()


def encode_molecule(smiles: str, profile: Profile) -> str:
    """The ``<MoleculeS>SMILES<MoleculeE>`` block of one molecule.

    Raises:
        EncodeError: the SMILES is invalid (see ``parse_smiles``).
    """
    return profile.wrap("molecule", prompt_smiles(smiles, profile))


def check_smiles(smiles: str, profile: Profile | None = None) -> SmilesCheck:
    """Check one SMILES without raising: valid with its canonical form, or invalid with the reason.

    Used for batches of model samples, where an invalid sample is data, not an error.
    """
    active = profile or load_profile()
    try:
        mol = parse_smiles(smiles, profile=active)
    except EncodeError as exc:
        return SmilesCheck(input=smiles, valid=False, canonical=None, reason=str(exc))
    return SmilesCheck(input=smiles, valid=True, canonical=mol_to_canonical(mol, active), reason=None)


def decode_molecule(text: str, profile: Profile) -> DecodedMolecule:
    """Decode text that is exactly one complete molecule block (surrounding whitespace allowed).

    Raises:
        DecodeError: the text is not one complete molecule block, or its SMILES is invalid; the error
            carries the position.
    """
    parsed = parse_blocks(text, profile)
    for item in parsed.items:
        if isinstance(item, TaskMarker) or (isinstance(item, Stray) and item.text.strip()):
            label = item.token if isinstance(item, TaskMarker) else repr(_shorten(item.text))
            raise DecodeError(
                f"Expected one molecule block only, found {label} at position {item.start}.",
                position=item.start,
                text=text,
            )
    blocks = parsed.blocks
    if len(blocks) != 1 or blocks[0].kind != "molecule":
        kinds = ", ".join(b.kind for b in blocks) or "no block"
        raise DecodeError(
            f"Expected exactly one molecule block ({profile.wrap('molecule', 'SMILES')}), found {kinds}.",
            position=blocks[1].start if len(blocks) > 1 else 0,
            text=text,
        )
    block = blocks[0]
    if not block.complete:
        raise DecodeError(
            f"The molecule block at position {block.start} has no {profile.end('molecule')} "
            "(truncated output). Generate with a larger token limit or close the block.",
            position=len(text),
            text=text,
        )
    return decode_molecule_content(block.content, profile, start=block.start, end=block.end, text=text)


def decode_molecule_content(
    content: str, profile: Profile, *, start: int, end: int, text: str | None = None
) -> DecodedMolecule:
    """Check the SMILES inside a molecule block found at ``start``..``end`` of ``text``.

    Raises:
        DecodeError: the SMILES is invalid; carries the position of the block's content.
    """
    content_at = start + len(profile.start("molecule"))
    try:
        mol = parse_smiles(content, what="molecule block SMILES", profile=profile)
    except EncodeError as exc:
        raise DecodeError(f"At position {content_at}: {exc}", position=content_at, text=text) from None
    return DecodedMolecule(
        smiles=content, canonical=mol_to_canonical(mol, profile), mol=mol, start=start, end=end
    )
