"""Protein sequences <-> ``<ProteinS>SEQ<ProteinE>`` blocks, and FASTA input.

Alphabet policy: only the 20 standard one-letter amino acids are accepted. The ambiguity and rare
codes are rejected with the letter to write instead, because LOGOS was trained on the 20 letters and
silently substituting would change the protein the user asked about:

    X (unknown)            -> write the real residue, or remove it
    B (Asp or Asn)         -> write D or N
    Z (Glu or Gln)         -> write E or Q
    J (Leu or Ile)         -> write L or I
    U (selenocysteine)     -> write C (its sulfur analogue)
    O (pyrrolysine)        -> write K (its parent lysine)

Input is forgiving about layout only: whitespace anywhere is removed and letters are upper-cased.
Decoding model text is strict: the block content must already be upper-case standard letters.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from logos_tools.errors import DecodeError, EncodeError, InputError
from logos_tools.grammar.blocks import Block, check_no_tags, parse_blocks
from logos_tools.grammar.profile import BlockKind, Profile

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
_AMINO_SET = frozenset(AMINO_ACIDS)
# Far above any single chain LOGOS can take in its context; a longer input is almost surely a mistake
# (a whole proteome pasted, a file read as a sequence).
MAX_PROTEIN_LENGTH = 5000
_SUBSTITUTES = {
    "X": "an unknown residue: write the real residue, or remove it",
    "B": "Asp or Asn: write D or N",
    "Z": "Glu or Gln: write E or Q",
    "J": "Leu or Ile: write L or I",
    "U": "selenocysteine: write C",
    "O": "pyrrolysine: write K",
    "*": "a stop codon: remove it",
    "-": "an alignment gap: remove the gaps",
    ".": "an alignment gap: remove the gaps",
}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ProteinSequence:
    """A checked protein sequence (20 standard one-letter codes)."""

    sequence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"sequence": self.sequence, "length": len(self.sequence)}


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record with its checked sequence."""

    id: str
    description: str
    sequence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def letter_problem(letter: str) -> str:
    """Why ``letter`` is not accepted and what to write instead (for error messages)."""
    hint = _SUBSTITUTES.get(letter)
    if hint is not None:
        return f"{letter!r} stands for {hint}"
    return f"{letter!r} is not one of the 20 standard amino-acid letters {AMINO_ACIDS}"


def check_sequence(seq: str, *, what: str = "protein sequence") -> str:
    """Normalise a user's protein sequence: drop whitespace, upper-case, check every letter.

    Raises:
        EncodeError: the sequence is empty, longer than ``MAX_PROTEIN_LENGTH``, or holds a letter
            outside the 20 standard amino acids (the message names the letter and its 1-based position).
    """
    cleaned = _WHITESPACE.sub("", seq).upper()
    if not cleaned:
        raise EncodeError(f"The {what} is empty. Pass one-letter amino-acid codes, e.g. 'MKTAYIAK'.")
    if len(cleaned) > MAX_PROTEIN_LENGTH:
        raise EncodeError(
            f"The {what} has {len(cleaned)} residues, more than the limit of {MAX_PROTEIN_LENGTH}. "
            "Pass a single chain or domain."
        )
    for index, letter in enumerate(cleaned):
        if letter not in _AMINO_SET:
            raise EncodeError(
                f"The {what} has {letter!r} at position {index + 1}: {letter_problem(letter)}. "
                f"Use only the letters {AMINO_ACIDS}."
            )
    return cleaned


def encode_protein(seq: str, profile: Profile) -> str:
    """``<ProteinS>SEQ<ProteinE>`` for a checked sequence.

    Raises:
        EncodeError: the sequence contains tag-like text or breaks ``check_sequence``.
    """
    check_no_tags(seq, "protein sequence", profile)
    return profile.wrap("protein", check_sequence(seq))


def only_block(text: str, kind: BlockKind, profile: Profile, *, what: str) -> Block:
    """The single complete top-level ``kind`` block of ``text``; whitespace around it is allowed.

    Raises:
        DecodeError: no block, several blocks, a block of another kind, stray text, a missing end tag,
            or text after a base-model end string. The error carries the position.
    """
    parsed = parse_blocks(text, profile)
    for stray in parsed.stray:
        if stray.text.strip():
            offset = stray.start + len(stray.text) - len(stray.text.lstrip())
            raise DecodeError(
                f"Stray text {_shorten(stray.text.strip())!r} at position {offset} outside the {what} "
                f"block. Pass exactly one {profile.start(kind)}...{profile.end(kind)} block.",
                position=offset,
                text=text,
            )
    if parsed.trailing.strip():
        position = len(text) - len(parsed.trailing)
        raise DecodeError(
            f"Text follows the end string {parsed.ended_by} at position {position}. "
            f"Pass exactly one {what} block.",
            position=position,
            text=text,
        )
    blocks = parsed.blocks
    if not blocks:
        raise DecodeError(
            f"No {what} block found in {_shorten(text)!r}. Wrap it as {profile.start(kind)}...{profile.end(kind)}.",
            position=0,
            text=text,
        )
    if len(blocks) > 1 or blocks[0].kind != kind:
        extra = blocks[1] if blocks[0].kind == kind else blocks[0]
        raise DecodeError(
            f"Expected exactly one {what} block, found a {extra.kind} block at position {extra.start}. "
            f"Pass one {profile.start(kind)}...{profile.end(kind)} block alone.",
            position=extra.start,
            text=text,
        )
    block = blocks[0]
    if not block.complete:
        raise DecodeError(
            f"The {what} block starting at position {block.start} has no {profile.end(kind)} "
            "(truncated at the token limit?). A truncated answer is not accepted.",
            position=block.end,
            text=text,
        )
    return block


def check_letters(content: str, offset: int, text: str, *, what: str) -> None:
    """Raise unless ``content`` (found at ``offset`` in ``text``) is upper-case standard letters.

    Raises:
        DecodeError: the content is empty or holds a non-standard character (position = its offset).
    """
    if not content:
        raise DecodeError(f"The {what} at position {offset} is empty.", position=offset, text=text)
    for index, letter in enumerate(content):
        if letter not in _AMINO_SET:
            raise DecodeError(
                f"The {what} has {letter!r} at position {offset + index} of the text: "
                f"{letter_problem(letter)}.",
                position=offset + index,
                text=text,
            )
    if len(content) > MAX_PROTEIN_LENGTH:
        raise DecodeError(
            f"The {what} has {len(content)} residues, more than the limit of {MAX_PROTEIN_LENGTH}.",
            position=offset,
            text=text,
        )


def decode_protein(block_text: str, profile: Profile) -> ProteinSequence:
    """Read exactly one complete ``<ProteinS>...<ProteinE>`` block without pocket marks.

    Raises:
        DecodeError: the text is not exactly one complete protein block, holds pocket marks, or holds a
            character outside the 20 standard letters; the error carries the position.
    """
    block = only_block(block_text, "protein", profile, what="protein")
    if block.children:
        pocket = block.children[0]
        raise DecodeError(
            f"The protein block holds a pocket mark at position {pocket.start}; decode it as a "
            "pocket-marked protein (decode_pocket_protein) instead.",
            position=pocket.start,
            text=block_text,
        )
    check_letters(block.content, block.start + len(profile.start("protein")), block_text, what="protein")
    return ProteinSequence(sequence=block.content)


def read_fasta(text_or_path: str | Path) -> list[FastaRecord]:
    """Read FASTA records from text (starting with '>') or from a file path; check every sequence.

    A ``Path`` is always read as a file; a ``str`` is FASTA text when its first non-blank character is
    '>', otherwise a file path.

    Raises:
        InputError: the file is missing or unreadable, the text is not FASTA, or it holds no record.
        EncodeError: a record's sequence breaks ``check_sequence`` (the message names the record).
    """
    from Bio import SeqIO

    seqio: Any = SeqIO  # Biopython's partial type hints: treat it as untyped

    if isinstance(text_or_path, str) and text_or_path.lstrip().startswith(">"):
        text, source = text_or_path, "FASTA text"
    else:
        path = Path(text_or_path).expanduser()
        if not path.is_file():
            raise InputError(
                f"FASTA file {str(path)!r} does not exist (and the value does not start with '>', so "
                "it is not FASTA text). Pass an existing file or text starting with '>name'."
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"Cannot read FASTA file {str(path)!r}: {exc}. Pass a UTF-8 text file."
            ) from None
        source = f"FASTA file {str(path)!r}"
    try:
        # Blank lines before the first record are harmless, but Biopython calls them comments.
        parsed = list(seqio.parse(io.StringIO(text.lstrip()), "fasta"))
    except ValueError as exc:
        reason = " ".join(str(exc).split("\n\n")[0].split())
        raise InputError(
            f"The {source} is not valid FASTA: {reason} Start the text with a '>name' line."
        ) from None
    if not parsed:
        raise InputError(f"The {source} holds no FASTA record. Start each record with a '>name' line.")
    records = []
    for entry in parsed:
        sequence = check_sequence(str(entry.seq), what=f"sequence of FASTA record {entry.id!r}")
        records.append(FastaRecord(id=entry.id, description=entry.description, sequence=sequence))
    return records


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
