"""Pocket-marked proteins: (sequence, pocket positions) <-> ``<ProteinS>MK<PocketS>T<PocketE>...<ProteinE>``.

Each pocket mark wraps exactly ONE residue letter; removing the marks gives the sequence back. Positions
are 0-based sequence indices everywhere in the API. A model's answer to the binding-site task is
checked without raising (``check_pocket_answer``): an answer whose letters differ from the input is
invalid data, reported with the first index where it diverged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from logos_tools.errors import DecodeError, EncodeError, ProfileError
from logos_tools.grammar.blocks import Block, check_no_tags, parse_blocks
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import (
    AMINO_ACIDS,
    check_letters,
    check_sequence,
    letter_problem,
    only_block,
)


@dataclass(frozen=True)
class PocketProtein:
    """A protein sequence with its pocket residues (sorted 0-based indices)."""

    sequence: str
    positions: tuple[int, ...]

    @property
    def pocket_letters(self) -> str:
        """The pocket residues' letters, in sequence order."""
        return "".join(self.sequence[i] for i in self.positions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"sequence": self.sequence, "positions": list(self.positions), "pocket": self.pocket_letters}


@dataclass(frozen=True)
class PocketAnswerCheck:
    """Verdict on one model answer to the binding-site task; invalid answers are data, not errors.

    Attributes:
        valid: the answer is a complete marked protein whose letters equal the input sequence.
        positions: pocket positions read from the answer (also kept when invalid, as far as read).
        reason: why the answer is invalid, None when valid.
        diverged_at: first 0-based index where the answer's letters differ from the input (a length
            mismatch diverges at the shorter length); None when they agree.
        truncated: the answer has no closing protein tag (or an open pocket mark).
    """

    valid: bool
    positions: tuple[int, ...]
    reason: str | None
    diverged_at: int | None
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "valid": self.valid,
            "positions": list(self.positions),
            "reason": self.reason,
            "diverged_at": self.diverged_at,
            "truncated": self.truncated,
        }


@dataclass
class MarkedScan:
    """What a scan of a marked protein's inner text found, without judging it.

    ``letters`` holds one character per residue (a pocket's residue from ``letter_of``, '?' when it
    stands for none); ``offsets`` the text offset where each residue starts; ``positions`` the residue
    indices of the pocket marks; ``error`` the first problem (message, text position); ``open_pocket``
    is True when the text ends inside a pocket mark.
    """

    letters: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    error: tuple[str, int] | None = None
    open_pocket: bool = False

    @property
    def sequence(self) -> str:
        """The residues read, marks removed."""
        return "".join(self.letters)

    def offset_of(self, residue: int, default: int) -> int:
        """Text offset of residue ``residue``, or ``default`` past the last one."""
        return self.offsets[residue] if residue < len(self.offsets) else default


def scan_marked(
    content: str, offset: int, profile: Profile, *, letter_of: Callable[[str], str]
) -> MarkedScan:
    """Walk a marked protein's inner text found at ``offset`` of the whole text.

    ``letter_of`` turns one pocket's content into its residue letter, raising ``DecodeError`` (position
    relative to the pocket content) when the content stands for none; the scan records the first such
    problem, or the first non-standard letter outside the marks, and keeps reading.
    """
    start, end = profile.start("pocket"), profile.end("pocket")
    scan = MarkedScan()
    cursor = 0
    while cursor < len(content):
        scan.offsets.append(offset + cursor)
        if content.startswith(start, cursor):
            inner_at = cursor + len(start)
            close = content.find(end, inner_at)
            if close < 0:
                scan.offsets.pop()
                scan.open_pocket = True
                return scan
            scan.positions.append(len(scan.letters))
            try:
                scan.letters.append(letter_of(content[inner_at:close]))
            except DecodeError as exc:
                scan.letters.append("?")
                if scan.error is None:
                    position = offset + inner_at + (exc.position or 0)
                    scan.error = (f"{exc} (position {position} of the text)", position)
            cursor = close + len(end)
            continue
        letter = content[cursor]
        if scan.error is None and letter not in AMINO_ACIDS:
            scan.error = (
                f"{letter_problem(letter)} (position {offset + cursor} of the text)",
                offset + cursor,
            )
        scan.letters.append(letter)
        cursor += 1
    return scan


def single_letter(inner: str) -> str:
    """The residue a letter-form pocket mark stands for: exactly one standard letter.

    Raises:
        DecodeError: the mark is empty, holds several characters, or a non-standard letter.
    """
    if len(inner) != 1:
        raise DecodeError(
            f"A pocket mark must wrap exactly one residue letter, this one wraps {inner!r}.", position=0
        )
    if inner not in AMINO_ACIDS:
        raise DecodeError(f"The pocket mark wraps {letter_problem(inner)}.", position=0)
    return inner


def check_positions(positions0: Sequence[int], length: int) -> tuple[int, ...]:
    """Sorted pocket positions after checking each is an in-range, unique 0-based index.

    Raises:
        EncodeError: a position is not an integer, lies outside 0..length-1, or is repeated.
    """
    seen: set[int] = set()
    for position in positions0:
        if isinstance(position, bool) or not isinstance(position, int):
            raise EncodeError(
                f"Pocket position {position!r} is not an integer. Pass 0-based residue indices."
            )
        if not 0 <= position < length:
            raise EncodeError(
                f"Pocket position {position} is outside the sequence (0-based indices 0..{length - 1} "
                f"for {length} residues). Pass 0-based indices into the sequence."
            )
        if position in seen:
            raise EncodeError(f"Pocket position {position} is given twice. Pass each position once.")
        seen.add(position)
    return tuple(sorted(seen))


def mark_inner(sequence: str, positions: Sequence[int], profile: Profile, wrap: Callable[[str], str]) -> str:
    """The inner text of a marked protein: residues at ``positions`` replaced by ``wrap(letter)``."""
    chosen = set(positions)
    return "".join(
        profile.wrap("pocket", wrap(letter)) if index in chosen else letter
        for index, letter in enumerate(sequence)
    )


def encode_pocket_protein(sequence: str, positions0: Sequence[int], profile: Profile) -> str:
    """``<ProteinS>MK<PocketS>T<PocketE>...<ProteinE>`` with one pocket mark per given position.

    Raises:
        EncodeError: the sequence breaks ``check_sequence`` or a position is invalid (the message names it).
    """
    check_no_tags(sequence, "protein sequence", profile)
    checked = check_sequence(sequence)
    positions = check_positions(positions0, len(checked))
    return profile.wrap("protein", mark_inner(checked, positions, profile, str))


def decode_pocket_protein(
    block_text: str, profile: Profile, *, expected_sequence: str | None = None
) -> PocketProtein:
    """Read exactly one complete letter-marked protein block.

    Raises:
        DecodeError: the text is not one complete protein block, a pocket mark does not wrap exactly one
            standard letter, a letter is non-standard, or the letters differ from ``expected_sequence``
            (the position names the first difference).
    """
    block = only_block(block_text, "protein", profile, what="pocket-marked protein")
    return decode_marked_block(block, block_text, profile, single_letter, expected_sequence)


def decode_marked_block(
    block: Block,
    text: str,
    profile: Profile,
    letter_of: Callable[[str], str],
    expected_sequence: str | None = None,
) -> PocketProtein:
    """A complete protein block's pockets and letters, strictly (shared by letter and SMILES forms).

    Raises:
        DecodeError: as ``decode_pocket_protein``.
    """
    offset = block.start + len(profile.start("protein"))
    scan = scan_marked(block.content, offset, profile, letter_of=letter_of)
    if scan.error is not None:
        message, position = scan.error
        raise DecodeError(f"Invalid pocket-marked protein: {message}", position=position, text=text)
    if scan.open_pocket:
        raise DecodeError("A pocket mark is never closed.", position=block.end, text=text)
    sequence = scan.sequence
    check_letters(sequence, offset, text, what="pocket-marked protein")
    if expected_sequence is not None:
        expected = check_sequence(expected_sequence, what="expected sequence")
        diverged = first_difference(sequence, expected)
        if diverged is not None:
            position = scan.offset_of(diverged, offset + len(block.content))
            raise DecodeError(
                f"The marked protein's letters differ from the expected sequence at index {diverged} "
                f"({_letter_at(sequence, diverged)} vs {_letter_at(expected, diverged)}, position "
                f"{position} of the text); removing the pocket marks must give back the input sequence.",
                position=position,
                text=text,
            )
    return PocketProtein(sequence=sequence, positions=tuple(scan.positions))


def check_pocket_answer(completion: str, input_sequence: str, profile: Profile) -> PocketAnswerCheck:
    """Judge a model's binding-site answer against the input sequence, never raising on bad text.

    ``completion`` is what the model wrote after the ``binding_site`` prompt (which already opened
    ``<ProteinS>``); it may also start with ``<ProteinS>`` itself. It must end with ``<ProteinE>``:
    a runtime that stops on that tag must append it, otherwise the answer counts as truncated. Text
    after the closing tag is ignored. An answer with no pocket mark is valid with no positions.

    Raises:
        EncodeError: ``input_sequence`` itself is not a valid sequence (a caller error, not model data).
    """
    expected = check_sequence(input_sequence, what="input sequence")
    start, end = profile.start("protein"), profile.end("protein")
    text = completion if completion.lstrip().startswith(start) else start + completion
    closing = text.find(end)
    if closing >= 0:
        text = text[: closing + len(end)]
    try:
        parsed = parse_blocks(text, profile)
    except DecodeError as exc:
        return PocketAnswerCheck(False, (), f"Not a pocket-marked protein: {exc}", None, False)
    block = parsed.blocks[0]
    scan = scan_marked(block.content, block.start + len(start), profile, letter_of=single_letter)
    truncated = not block.complete or scan.open_pocket
    diverged = first_difference(scan.sequence, expected)
    if truncated and diverged == len(scan.letters):
        diverged = None  # a cut-off answer that agrees so far has not diverged, it is only incomplete
    reason: str | None = None
    if scan.error is not None:
        reason = scan.error[0]
    elif diverged is not None:
        reason = (
            f"The answer's letters differ from the input at index {diverged} "
            f"({_letter_at(scan.sequence, diverged)} vs {_letter_at(expected, diverged)})."
        )
    elif truncated:
        reason = f"The answer is truncated after {len(scan.letters)} of {len(expected)} residues."
    return PocketAnswerCheck(reason is None, tuple(scan.positions), reason, diverged, truncated)


def build_search_prompt(sequence: str, profile: Profile) -> str:
    """The binding-site task prompt (``tasks.binding_site``) for a plain sequence.

    Raises:
        EncodeError: the sequence breaks ``check_sequence`` or contains tag-like text.
        ProfileError: the profile's ``binding_site`` task is missing or does not take ``{sequence}``.
    """
    check_no_tags(sequence, "protein sequence", profile)
    return fill_task("binding_site", profile, sequence=check_sequence(sequence))


def fill_task(task_name: str, profile: Profile, **values: str) -> str:
    """The prompt of task ``task_name`` with its placeholders filled.

    Raises:
        ProfileError: no such task, or its template does not take exactly the given placeholders.
    """
    template = profile.task(task_name)
    if set(template.placeholders) != set(values):
        raise ProfileError(
            f"Profile {profile.name!r} task {task_name!r} prompt {template.prompt!r} must use exactly the "
            f"placeholders {sorted(values)}, found {list(template.placeholders)}. Fix the template."
        )
    return template.prompt.format_map(values)


def first_difference(actual: str, expected: str) -> int | None:
    """First index where two sequences differ (the shorter length when one is a prefix), else None."""
    for index, (a, b) in enumerate(zip(actual, expected, strict=False)):
        if a != b:
            return index
    return None if len(actual) == len(expected) else min(len(actual), len(expected))


def _letter_at(sequence: str, index: int) -> str:
    return repr(sequence[index]) if index < len(sequence) else "end of sequence"
