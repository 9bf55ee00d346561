"""Protein and antibody sequences: zero-shot scoring of point mutations against the wild type, and
completion of a sequence from a prefix.

Mutation scores are log-likelihood ratios of whole sequence blocks: ``log P(mutant) - log P(wild type)``
under the model (positive: the model finds the mutant more likely). Completions are sampled from the
profile's ``protein_completion`` / ``antibody_completion`` prompts and ranked by whole-text perplexity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from logos_tools.errors import DecodeError, EncodeError, InputError, ProfileError
from logos_tools.grammar.antibody import decode_antibody, encode_antibody
from logos_tools.grammar.blocks import check_no_tags
from logos_tools.grammar.profile import EOS, Profile
from logos_tools.grammar.protein import (
    AMINO_ACIDS,
    check_sequence,
    decode_protein,
    encode_protein,
    letter_problem,
)
from logos_tools.runtime.base import Sample
from logos_tools.tasks.answers import unfinished_reason
from logos_tools.tasks.common import (
    InvalidSample,
    SamplingOptions,
    TaskContext,
    TaskResult,
    clip,
    draw,
    run_report,
    sampling_report,
    whole_text_perplexity,
)
from logos_tools.tasks.scoring import raw_distribution_report, score_texts, scoring_run_report

SequenceKind = Literal["protein", "antibody"]
KINDS: tuple[SequenceKind, ...] = ("protein", "antibody")
MAX_MUTATIONS = 512
MAX_SAMPLES = 256
MAX_NEW_TOKENS = 8192
_SUBSTITUTION = re.compile(r"^([A-Za-z])(-?\d+)(.)$")
_SEPARATORS = re.compile(r"[:,+;]")
VARIANT_RANKING = "highest llr first (log P(mutant) - log P(wild type) over the whole sequence block)"
COMPLETION_RANKING = "lowest whole-text perplexity (prompt + completion) first"


class VariantScore(BaseModel):
    """The model's verdict on one variant (one or several substitutions)."""

    rank: int = Field(description="1 is the variant the model likes best relative to the wild type.")
    mutation: str = Field(
        description="The variant, substitutions by position joined by ':' (e.g. 'L45P:A123G')."
    )
    substitutions: list[str] = Field(description="Its single substitutions.")
    sequence: str = Field(description="The mutant sequence.")
    log_prob: float = Field(description="log P of the mutant's whole sequence block.")
    llr: float = Field(
        description="log P(mutant) - log P(wild type); positive means more likely than wild type."
    )
    llr_per_residue: float = Field(
        description="llr divided by the sequence length (comparable across proteins)."
    )
    tokens: int = Field(description="Tokens of the mutant block as the model reads it.")


class VariantScoringResult(TaskResult):
    """Mutations of one wild type, ranked by log-likelihood ratio.

    Nothing is sampled: ``sampling`` reports the raw model distribution the log-probabilities come from.
    """

    wild_type: str = Field(description="The wild-type sequence as scored (whitespace removed, upper case).")
    kind: SequenceKind
    offset: int = Field(description="The number of the first residue.")
    wild_type_log_prob: float | None = Field(description="log P of the wild-type block (None if not scored).")
    wild_type_tokens: int | None
    variants: list[VariantScore] = Field(description="Scored variants, best first.")
    unscored: list[str] = Field(default=[], description="Variants not scored because the time budget ended.")
    ranking: str = VARIANT_RANKING


class SequenceCompletion(BaseModel):
    """One distinct completed sequence."""

    rank: int
    sequence: str = Field(description="The full sequence: prefix plus continuation.")
    continuation: str = Field(description="The residues the model added.")
    length: int
    count: int = Field(description="Samples that gave exactly this sequence.")
    sample_indices: list[int]
    best_perplexity: float | None = Field(description="Lowest whole-text perplexity among those samples.")


class SequenceCompletionResult(TaskResult):
    """Completed sequences for a prefix, most likely first."""

    prefix: str = Field(description="The prefix as written into the prompt.")
    kind: SequenceKind
    completions: list[SequenceCompletion]
    validity: float = Field(description="Fraction of samples that gave a complete, valid sequence.")
    ranking: str = COMPLETION_RANKING


@dataclass(frozen=True)
class Substitution:
    """One checked point substitution: 0-based index into the residues, and the letters."""

    index: int
    position: int
    wild: str
    mutant: str

    @property
    def label(self) -> str:
        """The conventional form, e.g. ``A123G``."""
        return f"{self.wild}{self.position}{self.mutant}"


def _check_kind(kind: str) -> SequenceKind:
    for known in KINDS:
        if kind == known:
            return known
    raise InputError(f"kind={kind!r} is not a sequence kind. Use one of: {', '.join(KINDS)}.")


def _chains(wild_type: str, kind: SequenceKind, profile: Profile) -> list[str]:
    """The checked chains of a wild type: one, or heavy and light in the ``heavy_light`` antibody layout."""
    if kind == "protein":
        check_no_tags(wild_type, "wild-type sequence", profile)
        return [check_sequence(wild_type, what="wild-type sequence")]
    if profile.unpublished.antibody_layout == "heavy":
        check_no_tags(wild_type, "wild-type antibody", profile)
        return [check_sequence(wild_type, what="wild-type antibody heavy chain")]
    separator = profile.unpublished.antibody_chain_separator
    parts = wild_type.split(separator)
    if len(parts) != 2:
        raise EncodeError(
            f"Profile {profile.name!r} writes antibodies as heavy and light chain; pass the wild type as "
            f"'HEAVY{separator}LIGHT' with exactly one {separator!r}. Positions then number the heavy chain's "
            "residues first, then the light chain's."
        )
    return [
        check_sequence(parts[0], what="wild-type antibody heavy chain"),
        check_sequence(parts[1], what="wild-type antibody light chain"),
    ]


def _block(chains: Sequence[str], kind: SequenceKind, profile: Profile) -> str:
    if kind == "protein":
        return encode_protein(chains[0], profile)
    return encode_antibody(chains[0], chains[1] if len(chains) > 1 else None, profile)


def _split(residues: str, lengths: Sequence[int]) -> list[str]:
    chains, start = [], 0
    for length in lengths:
        chains.append(residues[start : start + length])
        start += length
    return chains


def parse_mutation(text: str, residues: str, offset: int) -> list[Substitution]:
    """Check one variant such as ``A123G`` or ``A123G:L45P`` against the wild-type residues.

    Raises:
        InputError: the text is malformed, a position is outside the sequence or given twice, the
            wild-type letter does not match the sequence, or the new letter is not a standard amino acid.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"Mutation {text!r} is empty. Write it as e.g. 'A123G', several as 'A123G:L45P'.")
    substitutions: list[Substitution] = []
    last = offset + len(residues) - 1
    for part in _SEPARATORS.split(text.strip()):
        match = _SUBSTITUTION.match(part.strip())
        if match is None:
            raise InputError(
                f"Mutation {text!r}: {part.strip()!r} is not <wild-type letter><position><new letter>. "
                "Write e.g. 'A123G'; join several substitutions with ':' ('A123G:L45P')."
            )
        wild, position, mutant = match.group(1).upper(), int(match.group(2)), match.group(3).upper()
        if not offset <= position <= last:
            raise InputError(
                f"Mutation {text!r}: position {position} is outside the wild type, whose residues are "
                f"numbered {offset} to {last} (offset={offset}). Check the numbering or the offset."
            )
        index = position - offset
        actual = residues[index]
        if actual != wild:
            nearby = [
                p
                for p in (position - 1, position + 1)
                if offset <= p <= last and residues[p - offset] == wild
            ]
            hint = (
                f" The wild type has {wild!r} at position {nearby[0]}: is the numbering off by one (offset)?"
                if nearby
                else ""
            )
            raise InputError(
                f"Mutation {text!r}: the wild type has {actual!r} at position {position}, not {wild!r}. "
                f"Write '{actual}{position}{mutant}' if that residue is meant, or fix the position "
                f"(offset={offset} numbers the first residue {offset}).{hint}"
            )
        if mutant not in AMINO_ACIDS:
            raise InputError(
                f"Mutation {text!r}: the new residue {letter_problem(mutant)}. Use one of {AMINO_ACIDS}."
            )
        if any(s.index == index for s in substitutions):
            raise InputError(f"Mutation {text!r} changes position {position} twice. Give each position once.")
        substitutions.append(Substitution(index=index, position=position, wild=wild, mutant=mutant))
    return sorted(substitutions, key=lambda s: s.index)


def score_protein_variants(
    ctx: TaskContext,
    wild_type: str,
    mutations: Sequence[str],
    *,
    kind: SequenceKind = "protein",
    offset: int = 1,
) -> VariantScoringResult:
    """Score mutations of ``wild_type`` zero-shot by log-likelihood ratio against it, best first.

    Every mutation is checked before any model work. Equal variants (after ordering substitutions by
    position) are scored once.

    Raises:
        InputError: no mutations, too many, or a mutation that does not fit the wild type (the message
            names the mutation, what the sequence has there and the fix).
        EncodeError: the wild type is not a valid sequence.
        BackendError: the model failed.
    """
    profile = ctx.profile
    checked_kind = _check_kind(kind)
    if isinstance(mutations, str):
        raise InputError(
            f"mutations must be a list, got the string {mutations!r}. Pass e.g. ['A123G', 'A123G:L45P']."
        )
    if not mutations:
        raise InputError("No mutations given. Pass e.g. ['A123G', 'A123G:L45P'].")
    if len(mutations) > MAX_MUTATIONS:
        raise InputError(
            f"{len(mutations)} mutations given, more than the limit of {MAX_MUTATIONS}. Score in batches."
        )
    chains = _chains(wild_type, checked_kind, profile)
    lengths = [len(chain) for chain in chains]
    residues = "".join(chains)
    variants: dict[str, list[Substitution]] = {}
    for text in mutations:
        substitutions = parse_mutation(text, residues, offset)
        variants.setdefault(":".join(s.label for s in substitutions), substitutions)

    mutants: list[tuple[str, list[Substitution], str]] = []
    for label, substitutions in variants.items():
        letters = list(residues)
        for s in substitutions:
            letters[s.index] = s.mutant
        mutants.append((label, substitutions, "".join(letters)))
    texts = [_block(chains, checked_kind, profile)]
    texts += [_block(_split(sequence, lengths), checked_kind, profile) for _, _, sequence in mutants]
    results, stopped_by = score_texts(ctx, [("", text) for text in texts], label="score_protein_variants")

    scored: list[VariantScore] = []
    wild = results[0] if results else None
    # Fewer results than mutants when the time budget ended: the rest are listed as unscored.
    for (label, substitutions, sequence), result in zip(mutants, results[1:], strict=False):
        assert wild is not None
        llr = result.total_logprob - wild.total_logprob
        scored.append(
            VariantScore(
                rank=0,
                mutation=label,
                substitutions=[s.label for s in substitutions],
                sequence=sequence,
                log_prob=round(result.total_logprob, 6),
                llr=round(llr, 6),
                llr_per_residue=round(llr / len(residues), 6),
                tokens=len(result.token_ids),
            )
        )
    scored.sort(key=lambda v: -v.llr)
    for rank, variant in enumerate(scored, start=1):
        variant.rank = rank
    return VariantScoringResult(
        wild_type=residues if len(chains) == 1 else profile.unpublished.antibody_chain_separator.join(chains),
        kind=checked_kind,
        offset=offset,
        wild_type_log_prob=round(wild.total_logprob, 6) if wild else None,
        wild_type_tokens=len(wild.token_ids) if wild else None,
        variants=scored,
        unscored=[label for label, _, _ in mutants[max(len(results) - 1, 0) :]],
        model=ctx.model_report(),
        sampling=raw_distribution_report(),
        run=scoring_run_report(ctx, requested=len(texts), scored=len(results), stopped_by=stopped_by),
    )


def _clean_prefix(prefix: str, kind: SequenceKind, profile: Profile) -> str:
    """The prefix as written into the prompt: whitespace removed, upper case, letters checked."""
    if not isinstance(prefix, str):
        raise InputError(f"The prefix must be a string of amino-acid letters, got {type(prefix).__name__}.")
    what = f"{kind} prefix"
    check_no_tags(prefix, what, profile)
    cleaned = re.sub(r"\s+", "", prefix).upper()
    parts = [cleaned]
    if kind == "antibody" and profile.unpublished.antibody_layout == "heavy_light":
        separator = profile.unpublished.antibody_chain_separator
        parts = cleaned.split(separator)
        if len(parts) > 2 or (len(parts) == 2 and not parts[0]):
            raise EncodeError(
                f"The {what} {prefix!r} must be 'HEAVY' or 'HEAVY{separator}LIGHT-START' with at most one "
                f"{separator!r} after a non-empty heavy chain."
            )
    for part in parts:
        if part:
            check_sequence(part, what=what)
    return cleaned


def _fill(task_name: str, profile: Profile, prefix: str) -> str:
    template = profile.task(task_name)
    if set(template.placeholders) != {"prefix"}:
        raise ProfileError(
            f"Profile {profile.name!r} task {task_name!r} prompt {template.prompt!r} must use exactly the "
            f"placeholder ['prefix'], found {list(template.placeholders)}. Fix the template."
        )
    return template.prompt.format_map({"prefix": prefix})


def complete_sequence(
    ctx: TaskContext,
    prefix: str,
    *,
    kind: SequenceKind = "protein",
    num_samples: int | None = None,
    max_new_tokens: int | None = None,
    sampling: SamplingOptions | None = None,
) -> SequenceCompletionResult:
    """Complete a protein or antibody sequence from ``prefix`` (may be empty); rank the full sequences.

    A sample is valid when its block is complete (end tag reached) and holds only the 20 standard
    letters; a sample that adds no residue is invalid. Equal sequences are one completion.

    Raises:
        InputError: ``kind``, ``num_samples`` or ``max_new_tokens`` out of range.
        EncodeError: the prefix holds tags or non-standard letters.
        BackendError: the model failed.
    """
    profile = ctx.profile
    checked_kind = _check_kind(kind)
    if num_samples is not None and not 1 <= num_samples <= MAX_SAMPLES:
        raise InputError(f"num_samples={num_samples} is out of range: ask for 1 to {MAX_SAMPLES} samples.")
    if max_new_tokens is not None and not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InputError(f"max_new_tokens={max_new_tokens} is out of range: use 1 to {MAX_NEW_TOKENS}.")
    cleaned = _clean_prefix(prefix, checked_kind, profile)
    task_name = f"{checked_kind}_completion"
    task = profile.task(task_name)
    prompt = _fill(task_name, profile, cleaned)
    n = num_samples or task.samples
    params = (sampling or SamplingOptions()).resolve(profile)
    default_new = task.max_new_tokens if isinstance(task.max_new_tokens, int) else 512
    max_new = max_new_tokens or default_new
    drawn = draw(
        ctx, prompt=prompt, n=n, stop=task.stop, max_new_tokens=max_new, params=params, label=task_name
    )

    groups: dict[str, list[int]] = {}
    perplexities: dict[str, list[float]] = {}
    invalid: list[InvalidSample] = []
    for index, sample in enumerate(drawn.samples):
        reason = unfinished_reason(sample)
        sequence: str | None = None
        if reason is None:
            try:
                sequence = _decode_sequence(prompt + sample.text, checked_kind, profile)
            except DecodeError as exc:
                reason = _undecodable_reason(sample, checked_kind, exc, profile)
        if reason is None and sequence is not None and len(sequence) <= len(cleaned):
            reason = "the completion adds no residue to the prefix"
        if reason is not None or sequence is None:
            invalid.append(InvalidSample(index=index, text=clip(sample.text), reason=reason or "undecodable"))
            continue
        groups.setdefault(sequence, []).append(index)
        ppl = whole_text_perplexity(drawn.prompt_logprobs, sample)
        if ppl is not None:
            perplexities.setdefault(sequence, []).append(ppl)

    completions = [
        SequenceCompletion(
            rank=0,
            sequence=sequence,
            continuation=sequence[len(cleaned) :],
            length=len(sequence),
            count=len(members),
            sample_indices=members,
            best_perplexity=round(min(perplexities[sequence]), 4) if sequence in perplexities else None,
        )
        for sequence, members in groups.items()
    ]
    completions.sort(
        key=lambda c: (
            c.best_perplexity if c.best_perplexity is not None else math.inf,
            -c.count,
            c.sample_indices[0],
        )
    )
    for rank, completion in enumerate(completions, start=1):
        completion.rank = rank
    valid = sum(len(members) for members in groups.values())
    return SequenceCompletionResult(
        prefix=cleaned,
        kind=checked_kind,
        completions=completions,
        validity=round(valid / max(len(drawn.samples), 1), 4),
        invalid_samples=invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new),
        run=run_report(ctx, drawn, requested=n, valid=valid),
    )


def _undecodable_reason(sample: Sample, kind: SequenceKind, exc: DecodeError, profile: Profile) -> str:
    """Why a completion is not a sequence, in terms of what the model wrote.

    The decoder's messages are written for any text: its advice for pocket marks names another decoder,
    and it calls a block without end tag truncated even when the model itself ended the text.
    """
    start = profile.start("pocket")
    if start in sample.text:
        return (
            f"the model marked pocket residues ({start}...{profile.end('pocket')}) inside the sequence; "
            "a completed sequence holds residue letters only"
        )
    end = profile.end(kind)
    if sample.finish_reason == "stop" and sample.stop_tag == EOS and end not in sample.text:
        return f"the model ended the text without closing the {kind} block with {end}"
    return str(exc)


def _decode_sequence(text: str, kind: SequenceKind, profile: Profile) -> str:
    """The sequence content of one complete protein or antibody block (raises DecodeError)."""
    if kind == "protein":
        return decode_protein(text, profile).sequence
    antibody = decode_antibody(text, profile)
    if antibody.light is None:
        return antibody.heavy
    return f"{antibody.heavy}{profile.unpublished.antibody_chain_separator}{antibody.light}"
