"""Turning raw samples into a verdict: why a sample is unusable, in words an agent can act on."""

from __future__ import annotations

from logos_tools.grammar.reaction import MoleculeSetAnswer
from logos_tools.runtime.base import Sample


def unfinished_reason(sample: Sample) -> str | None:
    """Why a sample did not finish normally, or None when it did."""
    if sample.finish_reason == "deadline":
        return "cut by the time budget before its end tag"
    if sample.finish_reason == "length":
        return "no end tag within max_new_tokens (truncated)"
    if sample.finish_reason == "grammar":
        return "the grammar constraint allowed no further token"
    return None


def molecule_set_problem(answer: MoleculeSetAnswer) -> str | None:
    """Why a decoded molecule-set answer is invalid, or None when it is valid."""
    if answer.truncated:
        return "the last molecule block has no end tag (truncated)"
    if answer.unexpected:
        return "unexpected content in the answer: " + "; ".join(answer.unexpected)
    if answer.invalid:
        first = answer.invalid[0]
        return f"invalid SMILES {first.input!r}: {first.reason}"
    if not answer.molecules:
        return "no molecule block in the answer"
    if answer.stray:
        return f"text outside the molecule blocks: {answer.stray[0][:60]!r}"
    return None
