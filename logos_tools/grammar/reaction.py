"""Reaction codec: retrosynthesis and forward-reaction prompts, full reaction text, and answer sets.

Retro: ``<MoleculeS>P<MoleculeE><ReverseReact><MoleculeS>R1<MoleculeE><MoleculeS>R2<MoleculeE>``;
forward: ``<MoleculeS>R1<MoleculeE><MoleculeS>R2<MoleculeE><React><MoleculeS>P<MoleculeE>``. Prompts come
from the profile's task templates. An answer is the SET of canonical SMILES of the molecule blocks after
the task token: order is not significant and duplicates collapse.

User reaction SMILES (``'A.B>>C'``) are split into molecules at ``.``; reagents between the arrows are
rejected unless ``unpublished.reaction_reagents`` is true (then they are treated as reactants); atom maps
are removed from canonical forms unless ``unpublished.reaction_atom_maps`` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from logos_tools.errors import DecodeError, EncodeError, ProfileError
from logos_tools.grammar.blocks import Block, Stray, TaskMarker, check_no_tags, parse_blocks
from logos_tools.grammar.molecule import (
    DecodedMolecule,
    SmilesCheck,
    check_smiles,
    decode_molecule_content,
    mol_to_canonical,
    parse_smiles,
    prompt_smiles,
)
from logos_tools.grammar.profile import Profile, load_profile

Direction = Literal["retro", "forward"]
DIRECTIONS: tuple[Direction, ...] = ("retro", "forward")
_TASK_OF: dict[Direction, str] = {"retro": "reverse_react", "forward": "react"}


@dataclass(frozen=True)
class Reaction:
    """A checked reaction: SMILES as given and the canonical sets of each side."""

    reactants: tuple[str, ...]
    products: tuple[str, ...]
    reactant_set: frozenset[str]
    product_set: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (sets as sorted lists)."""
        return {
            "reactants": list(self.reactants),
            "products": list(self.products),
            "reactant_set": sorted(self.reactant_set),
            "product_set": sorted(self.product_set),
        }


@dataclass(frozen=True)
class MoleculeSetAnswer:
    """The answer part of a reaction completion: a canonical set, plus everything that was wrong.

    Attributes:
        molecules: canonical SMILES of the valid complete molecule blocks.
        checks: one check per complete molecule block, in order (valid and invalid).
        truncated: the last block had no end tag (token limit); its text is ``truncated_text``.
        stray: non-blank text found outside blocks.
        unexpected: blocks of other kinds or task tokens found in the answer, described.
        ended_by: the base-model end string that ended the answer, if any.
    """

    molecules: frozenset[str]
    checks: tuple[SmilesCheck, ...]
    truncated: bool
    truncated_text: str | None
    stray: tuple[str, ...]
    unexpected: tuple[str, ...]
    ended_by: str | None

    @property
    def invalid(self) -> tuple[SmilesCheck, ...]:
        """Checks of the blocks whose SMILES RDKit rejected."""
        return tuple(check for check in self.checks if not check.valid)

    @property
    def valid(self) -> bool:
        """True when at least one molecule was decoded and nothing was invalid, truncated or unexpected."""
        return bool(self.molecules) and not self.invalid and not self.truncated and not self.unexpected

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "valid": self.valid,
            "molecules": sorted(self.molecules),
            "invalid": [check.to_dict() for check in self.invalid],
            "truncated": self.truncated,
            "truncated_text": self.truncated_text,
            "stray": list(self.stray),
            "unexpected": list(self.unexpected),
            "ended_by": self.ended_by,
        }


@dataclass(frozen=True)
class DecodedReaction:
    """A decoded full reaction text, in either direction."""

    direction: Direction
    reactants: tuple[DecodedMolecule, ...]
    products: tuple[DecodedMolecule, ...]

    @property
    def reactant_set(self) -> frozenset[str]:
        """Canonical SMILES of the reactants."""
        return frozenset(m.canonical for m in self.reactants)

    @property
    def product_set(self) -> frozenset[str]:
        """Canonical SMILES of the products."""
        return frozenset(m.canonical for m in self.products)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "kind": "reaction",
            "direction": self.direction,
            "reactants": [m.to_dict() for m in self.reactants],
            "products": [m.to_dict() for m in self.products],
            "reactant_set": sorted(self.reactant_set),
            "product_set": sorted(self.product_set),
        }


def _split_side(side: str, label: str, text: str) -> list[str]:
    if not side.strip():
        raise EncodeError(
            f"Reaction SMILES {text!r} has no {label}s. Write it as 'reactant1.reactant2>>product'."
        )
    parts = side.split(".")
    if any(not part.strip() for part in parts):
        raise EncodeError(
            f"Reaction SMILES {text!r} has an empty {label} between dots in {side!r}. "
            "Separate molecules with single dots, e.g. 'CC(=O)O.OCC>>CC(=O)OCC'."
        )
    return [part.strip() for part in parts]


def parse_reaction_smiles(text: str, profile: Profile | None = None) -> Reaction:
    """Parse user reaction SMILES such as ``'CC(=O)O.OCC>>CC(=O)OCC'``; each side splits at ``.``.

    Raises:
        EncodeError: the text is not ``reactants>>products`` (or ``reactants>reagents>products`` when the
            profile allows reagents), a side is empty, or a molecule is invalid (named by side and number).
    """
    active = profile or load_profile()
    if isinstance(text, str) and "<" in text:
        check_no_tags(text, "reaction SMILES", active)
    if not isinstance(text, str) or text.count(">") != 2:
        raise EncodeError(
            f"Reaction SMILES {text!r} must have the form 'reactants>>products' with molecules joined by "
            "dots, e.g. 'CC(=O)O.OCC>>CC(=O)OCC'."
        )
    left, middle, right = text.strip().split(">")
    reactants = _split_side(left, "reactant", text)
    if middle.strip():
        if not active.unpublished.reaction_reagents:
            raise EncodeError(
                f"Reaction SMILES {text!r} lists reagents {middle!r} between the arrows, but the LOGOS "
                f"grammar of profile {active.name!r} has no reagents (reaction_reagents = false). Drop them "
                "('reactants>>products') or set unpublished.reaction_reagents = true in the profile."
            )
        reactants += _split_side(middle, "reagent", text)
    products = _split_side(right, "product", text)
    return Reaction(
        reactants=tuple(reactants),
        products=tuple(products),
        reactant_set=_canonical_set(reactants, "reactant", active),
        product_set=_canonical_set(products, "product", active),
    )


def _canonical_set(smiles: Sequence[str], label: str, profile: Profile) -> frozenset[str]:
    return frozenset(
        mol_to_canonical(parse_smiles(s, what=f"{label} {i} SMILES", profile=profile), profile)
        for i, s in enumerate(smiles, start=1)
    )


def _as_list(values: Sequence[str], label: str) -> list[str]:
    if isinstance(values, str):
        raise EncodeError(
            f"The {label}s must be a list of SMILES, got the single string {values!r}. "
            f"Pass [{values!r}] or split it at the dots."
        )
    if not values:
        raise EncodeError(f"No {label}s given. Pass at least one {label} SMILES.")
    return list(values)


def _blocks(smiles: Sequence[str], label: str, profile: Profile) -> str:
    return "".join(
        profile.wrap("molecule", prompt_smiles(s, profile, what=f"{label} {i} SMILES"))
        for i, s in enumerate(smiles, start=1)
    )


def _fill(task_name: str, profile: Profile, **values: str) -> str:
    template = profile.task(task_name)
    if set(template.placeholders) != set(values):
        raise ProfileError(
            f"Profile {profile.name!r} task {task_name!r} prompt {template.prompt!r} must use exactly the "
            f"placeholders {sorted(values)}, found {list(template.placeholders)}. Fix the template."
        )
    return template.prompt.format_map(values)


def build_retrosynthesis_prompt(product: str, profile: Profile) -> str:
    """The retrosynthesis prompt for one product, from the profile's ``retrosynthesis`` template.

    Raises:
        EncodeError: the product SMILES is invalid.
        ProfileError: the template does not take exactly ``{product}``.
    """
    return _fill("retrosynthesis", profile, product=prompt_smiles(product, profile, what="product SMILES"))


def build_forward_prompt(reactants: Sequence[str], profile: Profile) -> str:
    """The forward-reaction prompt for some reactants, from the profile's ``forward_reaction`` template.

    Raises:
        EncodeError: no reactants, a single string instead of a list, or an invalid reactant SMILES.
        ProfileError: the template does not take exactly ``{reactants}``.
    """
    return _fill(
        "forward_reaction", profile, reactants=_blocks(_as_list(reactants, "reactant"), "reactant", profile)
    )


def encode_reaction(
    reactants: Sequence[str], products: Sequence[str], direction: Direction, profile: Profile
) -> str:
    """Full training-style reaction text: the task prompt followed by the answer blocks.

    Retro takes exactly one product (the template has one product slot).

    Raises:
        EncodeError: an unknown direction, a missing or invalid molecule, or several retro products.
        ProfileError: the profile's template does not fit.
    """
    reactant_list = _as_list(reactants, "reactant")
    product_list = _as_list(products, "product")
    if direction == "retro":
        if len(product_list) != 1:
            raise EncodeError(
                f"Retrosynthesis takes one product, got {len(product_list)}: {product_list!r}. "
                "Keep the main product only, or use direction 'forward'."
            )
        prompt = build_retrosynthesis_prompt(product_list[0], profile)
        return prompt + _blocks(reactant_list, "reactant", profile)
    if direction == "forward":
        return build_forward_prompt(reactant_list, profile) + _blocks(product_list, "product", profile)
    raise EncodeError(f"Reaction direction {direction!r} is unknown. Use one of: {', '.join(DIRECTIONS)}.")


def decode_molecule_set(completion: str, profile: Profile) -> MoleculeSetAnswer:
    """Decode the answer that follows a reaction task token into a canonical set of molecules.

    Bad chemistry, truncation and stray text are recorded in the result, never raised.

    Raises:
        DecodeError: the text is structurally broken (an end tag that closes nothing, a block opened
            where the grammar forbids it); carries the position.
    """
    parsed = parse_blocks(completion, profile)
    checks: list[SmilesCheck] = []
    stray: list[str] = []
    unexpected: list[str] = []
    truncated_text: str | None = None
    for item in parsed.items:
        if isinstance(item, Stray):
            if item.text.strip():
                stray.append(item.text)
        elif isinstance(item, TaskMarker):
            unexpected.append(f"task token {item.token} at position {item.start}")
        elif item.kind != "molecule":
            unexpected.append(f"{item.kind} block at position {item.start}")
        elif not item.complete:
            truncated_text = item.content
        else:
            checks.append(check_smiles(item.content, profile))
    return MoleculeSetAnswer(
        molecules=frozenset(c.canonical for c in checks if c.canonical is not None),
        checks=tuple(checks),
        truncated=parsed.truncated,
        truncated_text=truncated_text,
        stray=tuple(stray),
        unexpected=tuple(unexpected),
        ended_by=parsed.ended_by,
    )


def _side(
    items: Sequence[Block | TaskMarker | Stray], label: str, profile: Profile, text: str
) -> list[DecodedMolecule]:
    molecules: list[DecodedMolecule] = []
    for item in items:
        if isinstance(item, Stray):
            if item.text.strip():
                raise DecodeError(
                    f"Stray text {item.text[:40]!r} at position {item.start} in the {label}s; a reaction "
                    "holds only molecule blocks and one task token.",
                    position=item.start,
                    text=text,
                )
            continue
        if isinstance(item, TaskMarker) or item.kind != "molecule":
            what = item.token if isinstance(item, TaskMarker) else f"a {item.kind} block"
            raise DecodeError(
                f"Found {what} at position {item.start} among the {label}s; a reaction holds only molecule "
                "blocks and one task token.",
                position=item.start,
                text=text,
            )
        if not item.complete:
            raise DecodeError(
                f"The {label} block at position {item.start} has no {profile.end('molecule')} (truncated).",
                position=len(text),
                text=text,
            )
        molecules.append(
            decode_molecule_content(item.content, profile, start=item.start, end=item.end, text=text)
        )
    if not molecules:
        raise DecodeError(f"The reaction has no {label} molecule block.", position=0, text=text)
    return molecules


def decode_reaction(text: str, profile: Profile) -> DecodedReaction:
    """Strictly decode full reaction text (prompt and answer), retro or forward.

    Raises:
        DecodeError: not exactly one reaction task token, a side without molecules, a non-molecule
            item, a truncated block or an invalid SMILES; carries the position.
    """
    parsed = parse_blocks(text, profile)
    tokens = {profile.task_tokens[_TASK_OF[d]]: d for d in DIRECTIONS}
    markers = [(i, item) for i, item in enumerate(parsed.items) if isinstance(item, TaskMarker)]
    if len(markers) != 1 or markers[0][1].token not in tokens:
        found = ", ".join(f"{m.token} at {m.start}" for _, m in markers) or "none"
        raise DecodeError(
            f"A reaction text needs exactly one of {', '.join(tokens)}; found {found}.",
            position=markers[1][1].start if len(markers) > 1 else (markers[0][1].start if markers else 0),
            text=text,
        )
    index, marker = markers[0]
    direction = tokens[marker.token]
    before = _side(parsed.items[:index], "product" if direction == "retro" else "reactant", profile, text)
    after = _side(parsed.items[index + 1 :], "reactant" if direction == "retro" else "product", profile, text)
    if direction == "retro":
        return DecodedReaction(direction=direction, reactants=tuple(after), products=tuple(before))
    return DecodedReaction(direction=direction, reactants=tuple(before), products=tuple(after))
