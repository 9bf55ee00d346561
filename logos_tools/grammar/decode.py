"""Generic decoder of LOGOS text: every top-level block decoded by kind, with all problems listed.

This is what ``logos grammar decode`` and ``validate`` run. Structural errors (an end tag closing
nothing, a block opened where the grammar forbids it) raise ``DecodeError`` with the position. A block
whose content is wrong (bad SMILES, non-standard letter, truncated) does not raise: it is kept with its
reason, so a user sees every problem of a text at once.

Protein, pocket and antibody blocks are decoded by their own codecs (imported on first use), as is the
material codec, which loads pymatgen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logos_tools.errors import DecodeError, LogosError
from logos_tools.grammar.blocks import Block, Parsed, Stray, TaskMarker, parse_blocks
from logos_tools.grammar.molecule import decode_molecule_content
from logos_tools.grammar.profile import Profile

_REACTION_TASKS = frozenset({"react", "reverse_react"})
_SEQUENCE_TASKS = frozenset({"search", "trans"})


@dataclass(frozen=True)
class DecodedBlock:
    """One top-level block: its kind, where it is, and its decoded value or the reason it failed."""

    kind: str
    start: int
    end: int
    complete: bool
    value: dict[str, Any] | None
    error: str | None
    error_position: int | None

    @property
    def valid(self) -> bool:
        """True when the block is complete and decoded without error."""
        return self.complete and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "complete": self.complete,
            "valid": self.valid,
            "value": self.value,
            "error": self.error,
            "error_position": self.error_position,
        }


@dataclass(frozen=True)
class DecodedText:
    """Everything found in a text: task markers, decoded blocks, stray text and the problems."""

    blocks: tuple[DecodedBlock, ...]
    task_markers: tuple[TaskMarker, ...]
    stray: tuple[Stray, ...]
    truncated: bool
    ended_by: str | None
    trailing: str
    reaction: dict[str, Any] | None
    problems: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """True when the text holds at least one block and no problem was found."""
        return bool(self.blocks) and not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "valid": self.valid,
            "problems": list(self.problems),
            "task_markers": [{"name": m.name, "token": m.token, "start": m.start} for m in self.task_markers],
            "blocks": [block.to_dict() for block in self.blocks],
            "reaction": self.reaction,
            "stray": [{"text": s.text, "start": s.start} for s in self.stray],
            "truncated": self.truncated,
            "ended_by": self.ended_by,
            "trailing": self.trailing,
        }


def _protein_kind(block: Block) -> str:
    if not block.children:
        return "protein"
    single = all(len(child.content) == 1 for child in block.children)
    return "pocket_protein" if single else "expanded_pocket_protein"


def _slice_decoder(block: Block, profile: Profile) -> tuple[str, Callable[[str, Profile], Any]]:
    """The kind name and the other codec's single-block decoder for a protein or antibody block."""
    if block.kind == "antibody":
        from logos_tools.grammar.antibody import decode_antibody

        return "antibody", decode_antibody
    kind = _protein_kind(block)
    if kind == "protein":
        from logos_tools.grammar.protein import decode_protein

        return kind, decode_protein
    if kind == "pocket_protein":
        from logos_tools.grammar.pocket import decode_pocket_protein

        return kind, decode_pocket_protein
    from logos_tools.grammar.pocket_smiles import decode_expanded_pocket

    return kind, decode_expanded_pocket


def _decode_block(block: Block, text: str, profile: Profile, *, geometry: bool) -> DecodedBlock:
    kind: str = block.kind
    value: dict[str, Any] | None = None
    try:
        if not block.complete:
            raise DecodeError(
                f"The {block.kind} block at position {block.start} has no {profile.end(block.kind)} "
                "(truncated at the token limit?).",
                position=block.end,
            )
        if block.kind == "molecule":
            value = decode_molecule_content(
                block.content, profile, start=block.start, end=block.end, text=text
            ).to_dict()
        elif block.kind == "material":
            from logos_tools.grammar.material import decode_material_block

            material = decode_material_block(block, text, profile, geometry=geometry)
            value = material.to_dict()
            if not material.valid:
                failed = [
                    f"{c.name} ({c.detail})"
                    for c in material.checks
                    if c.severity == "error" and not c.passed
                ]
                raise DecodeError(f"The material fails {'; '.join(failed)}.", position=block.start)
        else:
            kind, decoder = _slice_decoder(block, profile)
            # Those codecs take one block alone; blank padding in front keeps their positions (and the
            # positions in their messages) those of the whole text.
            alone = " " * block.start + text[block.start : block.end]
            value = {"kind": kind, **decoder(alone, profile).to_dict()}
    except DecodeError as exc:
        return DecodedBlock(kind, block.start, block.end, block.complete, value, str(exc), exc.position)
    except LogosError as exc:  # e.g. a ProfileError raised while decoding: reported, never a crash
        return DecodedBlock(kind, block.start, block.end, block.complete, value, str(exc), None)
    return DecodedBlock(kind, block.start, block.end, block.complete, value, None, None)


def _sequence_of(block: DecodedBlock) -> str | None:
    if block.value is None:
        return None
    sequence = block.value.get("sequence")
    return sequence if isinstance(sequence, str) else None


def _task_problems(parsed: Parsed, decoded: dict[int, DecodedBlock]) -> list[str]:
    """Search and Trans answers must keep the input protein's letters exactly."""
    problems = []
    items = parsed.items
    for index, marker in enumerate(items):
        if not isinstance(marker, TaskMarker) or marker.name not in _SEQUENCE_TASKS:
            continue
        before = next((decoded[id(i)] for i in reversed(items[:index]) if isinstance(i, Block)), None)
        after = next((decoded[id(i)] for i in items[index + 1 :] if isinstance(i, Block)), None)
        if before is None or after is None:
            continue
        first, second = _sequence_of(before), _sequence_of(after)
        if first is not None and second is not None and first != second:
            diverged = next(
                (k for k, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
                min(len(first), len(second)),
            )
            problems.append(
                f"The protein after {marker.token} differs from the one before it at residue index {diverged}; "
                "removing the pocket marks must give back the input sequence."
            )
    return problems


def decode_text(text: str, profile: Profile, *, geometry: bool = True) -> DecodedText:
    """Decode every top-level block of ``text`` by its kind and list every problem found.

    ``geometry=False`` skips the 3D embedding of material blocks.

    Raises:
        DecodeError: the text is structurally broken (see ``parse_blocks``); carries the position.
    """
    if not isinstance(text, str):
        raise DecodeError(f"Expected LOGOS text, got {type(text).__name__}. Pass a string.")
    parsed = parse_blocks(text, profile)
    decoded = {id(block): _decode_block(block, text, profile, geometry=geometry) for block in parsed.blocks}
    blocks = tuple(decoded[id(block)] for block in parsed.blocks)
    markers = tuple(item for item in parsed.items if isinstance(item, TaskMarker))
    problems = [f"{b.kind} block at position {b.start}: {b.error}" for b in blocks if b.error]
    problems += [
        f"Stray text {s.text.strip()[:40]!r} at position {s.start} outside any block."
        for s in parsed.stray
        if s.text.strip()
    ]
    if parsed.trailing.strip():
        problems.append(f"Text after the end string {parsed.ended_by} was ignored.")
    if not blocks:
        problems.append("No LOGOS block found. Wrap values in tags, e.g. <MoleculeS>CCO<MoleculeE>.")
    problems += _task_problems(parsed, decoded)
    reaction: dict[str, Any] | None = None
    if any(m.name in _REACTION_TASKS for m in markers):
        from logos_tools.grammar.reaction import decode_reaction

        try:
            reaction = decode_reaction(text, profile).to_dict()
        except DecodeError as exc:
            if not any(b.error for b in blocks):  # bad molecules are already listed once
                problems.append(f"Not a well-formed reaction: {exc}")
    return DecodedText(
        blocks=blocks,
        task_markers=markers,
        stray=tuple(parsed.stray),
        truncated=parsed.truncated,
        ended_by=parsed.ended_by,
        trailing=parsed.trailing,
        reaction=reaction,
        problems=tuple(problems),
    )
