"""The SMILES-expanded pocket form of the ``<Trans>`` task: each pocket residue written as its SMILES.

``<ProteinS>MKT<PocketS>CC(C)C[C@H](N)C(=O)O<PocketE>AV...<ProteinE>``: residues outside the pocket stay
one-letter codes, each pocket residue becomes the SMILES the profile's ``[residue_smiles]`` table gives
its letter (written exactly as in the table). Decoding maps a SMILES back to its letter by RDKit
canonical SMILES (stereo kept), so any valid spelling of the same amino acid decodes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from rdkit import Chem, rdBase

from logos_tools.errors import DecodeError, ProfileError
from logos_tools.grammar.blocks import check_no_tags
from logos_tools.grammar.pocket import (
    PocketProtein,
    check_positions,
    decode_marked_block,
    fill_task,
    mark_inner,
)
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import AMINO_ACIDS, check_sequence, only_block


def _canonical(smiles: str) -> str | None:
    with rdBase.BlockLogs():  # RDKit would print parse errors to stderr; we report them ourselves
        mol = Chem.MolFromSmiles(smiles) if smiles else None
    return None if mol is None else str(Chem.MolToSmiles(mol))


@functools.lru_cache(maxsize=8)
def _checked_table(entries: tuple[tuple[str, str], ...], profile_name: str) -> dict[str, str]:
    table = dict(entries)
    missing = [letter for letter in AMINO_ACIDS if letter not in table]
    if missing:
        raise ProfileError(
            f"Profile {profile_name!r}: [residue_smiles] lacks {', '.join(missing)}. "
            "Give a SMILES for each of the 20 amino acids."
        )
    by_canonical: dict[str, str] = {}
    for letter, smiles in entries:
        if letter not in AMINO_ACIDS:
            raise ProfileError(
                f"Profile {profile_name!r}: [residue_smiles] key {letter!r} is not one of the 20 standard "
                f"amino-acid letters {AMINO_ACIDS}. Remove it."
            )
        canonical = _canonical(smiles)
        if canonical is None:
            raise ProfileError(
                f"Profile {profile_name!r}: residue_smiles.{letter} = {smiles!r} is not a valid SMILES "
                "(RDKit cannot parse it). Fix the entry."
            )
        if canonical in by_canonical:
            first, second = sorted((letter, by_canonical[canonical]))
            raise ProfileError(
                f"Profile {profile_name!r}: residue_smiles.{first} and residue_smiles.{second} are the same "
                f"molecule ({canonical}), so decoding would be ambiguous. Give each residue its own SMILES."
            )
        by_canonical[canonical] = letter
    return by_canonical


def residue_letters_by_smiles(profile: Profile) -> dict[str, str]:
    """Canonical SMILES -> residue letter for the profile's ``[residue_smiles]`` table (checked, cached).

    Raises:
        ProfileError: a letter lacks an entry, a key is not a standard letter, an entry is not a valid
            SMILES, or two entries are the same molecule.
    """
    return _checked_table(tuple(sorted(profile.residue_smiles.items())), profile.name)


def expand_pocket(sequence: str, positions0: Sequence[int], profile: Profile) -> str:
    """``<ProteinS>...<ProteinE>`` with every pocket residue written as its SMILES.

    Raises:
        EncodeError: the sequence or a position is invalid.
        ProfileError: the residue SMILES table is invalid.
    """
    return profile.wrap("protein", expanded_inner(sequence, positions0, profile))


def expanded_inner(sequence: str, positions0: Sequence[int], profile: Profile) -> str:
    """The inner text of ``expand_pocket`` (no protein tags), for templates that supply them.

    Raises:
        EncodeError: the sequence or a position is invalid.
        ProfileError: the residue SMILES table is invalid.
    """
    residue_letters_by_smiles(profile)
    check_no_tags(sequence, "protein sequence", profile)
    checked = check_sequence(sequence)
    positions = check_positions(positions0, len(checked))
    return mark_inner(checked, positions, profile, profile.residue_smiles.__getitem__)


def decode_expanded_pocket(block_text: str, profile: Profile) -> PocketProtein:
    """Read one complete SMILES-expanded protein block back into (sequence, pocket positions).

    Raises:
        DecodeError: the text is not one complete protein block, a letter outside the pocket marks is
            non-standard, or a pocket holds a SMILES that is invalid or no residue of the table
            (the position points into that SMILES).
        ProfileError: the residue SMILES table is invalid.
    """
    letters = residue_letters_by_smiles(profile)

    def letter_of(smiles: str) -> str:
        canonical = _canonical(smiles)
        if canonical is None:
            raise DecodeError(f"The pocket holds {smiles!r}, which is not a valid SMILES.", position=0)
        letter = letters.get(canonical)
        if letter is None:
            raise DecodeError(
                f"The pocket holds the SMILES {smiles!r}, which is none of the 20 residues of the "
                f"profile's [residue_smiles] table (canonical form {canonical!r}).",
                position=0,
            )
        return letter

    block = only_block(block_text, "protein", profile, what="SMILES-expanded pocket protein")
    return decode_marked_block(block, block_text, profile, letter_of)


def build_trans_prompt(sequence: str, positions0: Sequence[int], profile: Profile) -> str:
    """The ``<Trans>`` task prompt (``tasks.pocket_expansion``) for a letter-marked protein.

    Raises:
        EncodeError: the sequence or a position is invalid.
        ProfileError: the ``pocket_expansion`` task is missing or does not take ``{marked_sequence}``.
    """
    check_no_tags(sequence, "protein sequence", profile)
    checked = check_sequence(sequence)
    positions = check_positions(positions0, len(checked))
    marked = mark_inner(checked, positions, profile, str)
    return fill_task("pocket_expansion", profile, marked_sequence=marked)
