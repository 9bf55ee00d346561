"""Sampling molecules until enough pass the filters: the loop shared by ligand design and molecule
generation, and the result fields both tasks report.

Each round draws more samples of the same prompt (seed + round, so a repeated run repeats every round).
Every sample is decoded (``molecule.check_smiles``), every valid molecule described
(``properties.describe_molecule``) and checked against the filters. Rounds go on until
``num_molecules`` distinct molecules pass, or the sample budget (``max_samples``) or the time budget
ends; the result then says partial, and why. The last round can pass more molecules than asked for:
the best ``num_molecules`` are listed, the others kept apart as extra molecules. Nothing is dropped
silently: invalid samples are listed with their reason, molecules that miss a filter are listed with the
limits they miss and tallied.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from logos_tools.errors import InputError
from logos_tools.grammar.molecule import check_smiles, mol_to_canonical, parse_smiles
from logos_tools.grammar.profile import EOS, Profile
from logos_tools.runtime.base import Sample, SamplingParams
from logos_tools.tasks.answers import unfinished_reason
from logos_tools.tasks.common import (
    Drawn,
    InvalidSample,
    TaskContext,
    TaskResult,
    clip,
    draw,
    run_report,
    sampling_report,
    whole_text_perplexity,
)
from logos_tools.tasks.properties import (
    MoleculeFilter,
    MoleculeProperties,
    describe_molecule,
    uniqueness_and_novelty,
)

MAX_MOLECULES = 1000
MAX_SAMPLES = 20000
SAMPLES_PER_MOLECULE = 4  # default sample budget: this many samples per requested molecule
MAX_ROUND = 1024  # samples per round at most: one backend request, and progress between rounds
R = TypeVar("R", bound="MoleculeBatchResult")
RANKING = (
    "Molecules by whole-text perplexity (prompt + the best of their samples), lowest first; a molecule "
    "sampled several times is listed once with its count."
)


class GeneratedMolecule(BaseModel):
    """One distinct valid molecule from the samples."""

    rank: int = Field(
        description="1 = lowest whole-text perplexity in its group: passing molecules (molecules, then "
        "extra_molecules) or rejected molecules."
    )
    smiles: str = Field(description="RDKit canonical SMILES.")
    sampled_as: str = Field(description="The SMILES as the model wrote it (first sample).")
    count: int = Field(description="How many samples gave this molecule.")
    sample_indices: list[int] = Field(description="Indices of those samples among all drawn samples.")
    perplexity: float | None = Field(description="Best whole-text perplexity of its samples (lower first).")
    novel: bool | None = Field(description="Absent from the reference set; None when no reference is known.")
    passes_filters: bool = Field(description="Meets every filter limit (True when no filter is set).")
    filter_failures: list[str] = Field(description="The limits it misses, e.g. 'QED 0.31 < 0.5'.")
    properties: MoleculeProperties


class FilterReport(BaseModel):
    """What the filters did: how many distinct molecules passed, and which limits the others missed."""

    filters: MoleculeFilter
    active: bool = Field(description="Whether any limit is set.")
    passed: int = Field(description="Distinct valid molecules meeting every limit.")
    failed: int = Field(description="Distinct valid molecules missing at least one limit.")
    failures_by_limit: dict[str, int] = Field(
        description="Distinct molecules missing each limit (keys are filter fields, e.g. 'min_qed')."
    )


class MoleculeBatchResult(TaskResult):
    """Fields every molecule-sampling task reports."""

    num_molecules: int = Field(description="Distinct molecules passing the filters that were asked for.")
    molecules: list[GeneratedMolecule] = Field(
        description="The best num_molecules distinct valid molecules passing the filters, best first "
        "(fewer when a budget ended the run)."
    )
    extra_molecules: list[GeneratedMolecule] = Field(
        default_factory=list,
        description="Distinct molecules that also passed the filters (the last round gave more than "
        "asked for) but rank below those listed, best first, ranks going on from molecules. Ask for "
        "more molecules to have them listed.",
    )
    rejected_molecules: list[GeneratedMolecule] = Field(
        description="Distinct valid molecules that miss a filter, best first, with the limits they miss."
    )
    validity: float = Field(description="Valid samples / drawn samples.")
    uniqueness: float = Field(description="Distinct valid molecules / valid samples.")
    novelty: float | None = Field(
        description="Distinct valid molecules absent from the reference / distinct valid molecules; "
        "None when there is no reference (see novelty_reference)."
    )
    novelty_reference: str = Field(description="What novelty is measured against, or why it is not.")
    filter_report: FilterReport
    rounds: int = Field(description="Sampling rounds drawn.")
    ranking: str = Field(description="How molecules are ordered.")


@dataclass(frozen=True)
class MoleculeJob:
    """One prompt to sample molecules from.

    ``opened`` says the prompt already ends with the molecule start tag; ``prefix`` is SMILES text the
    prompt already holds after it, which every sample continues (the molecule is prefix + sample).
    """

    prompt: str
    stop: tuple[str, ...]
    max_new_tokens: int
    params: SamplingParams
    label: str
    opened: bool = True
    prefix: str = ""


@dataclass
class SampledMolecules:
    """Everything the loop found; tasks turn it into their result."""

    job: MoleculeJob
    num_molecules: int
    drawn: Drawn
    requested: int
    valid: int
    molecules: list[GeneratedMolecule]
    extra: list[GeneratedMolecule]
    rejected: list[GeneratedMolecule]
    invalid: list[InvalidSample]
    uniqueness: float
    novelty: float | None
    filter_report: FilterReport
    partial_reason: str | None

    def build(self, cls: type[R], ctx: TaskContext, *, novelty_reference: str, **task_fields: Any) -> R:
        """The task's result: the shared ``MoleculeBatchResult`` fields plus ``task_fields``."""
        return cls(
            num_molecules=self.num_molecules,
            molecules=self.molecules,
            extra_molecules=self.extra,
            rejected_molecules=self.rejected,
            validity=round(self.valid / max(len(self.drawn.samples), 1), 4),
            uniqueness=round(self.uniqueness, 4),
            novelty=None if self.novelty is None else round(self.novelty, 4),
            novelty_reference=novelty_reference,
            filter_report=self.filter_report,
            rounds=self.drawn.rounds,
            ranking=RANKING,
            invalid_samples=self.invalid,
            model=ctx.model_report(),
            sampling=sampling_report(self.job.params, self.job.max_new_tokens),
            run=run_report(
                ctx,
                self.drawn,
                requested=self.requested,
                valid=self.valid,
                partial_reason=self.partial_reason,
            ),
            **task_fields,
        )


def check_counts(num_molecules: int, max_samples: int | None) -> int:
    """The sample budget after checking both counts (``SAMPLES_PER_MOLECULE`` x molecules by default).

    Raises:
        InputError: a count is not a positive integer or exceeds its limit.
    """
    if isinstance(num_molecules, bool) or not 1 <= num_molecules <= MAX_MOLECULES:
        raise InputError(
            f"num_molecules={num_molecules!r} is out of range: ask for 1 to {MAX_MOLECULES} molecules, e.g. 10."
        )
    if max_samples is None:
        return min(SAMPLES_PER_MOLECULE * num_molecules, MAX_SAMPLES)
    if isinstance(max_samples, bool) or not 1 <= max_samples <= MAX_SAMPLES:
        raise InputError(
            f"max_samples={max_samples!r} is out of range: allow 1 to {MAX_SAMPLES} samples, e.g. "
            f"{SAMPLES_PER_MOLECULE * num_molecules} ({SAMPLES_PER_MOLECULE} per molecule)."
        )
    return max_samples


def canonical_reference(smiles: Collection[str], profile: Profile, *, what: str) -> frozenset[str]:
    """Canonical forms of reference SMILES, for novelty.

    Raises:
        EncodeError: a reference SMILES is invalid (the message names it).
    """
    return frozenset(
        mol_to_canonical(parse_smiles(value, what=what, profile=profile), profile) for value in smiles
    )


@dataclass
class _Found:
    sampled_as: str
    props: MoleculeProperties
    passes: bool
    failures: list[str]
    samples: list[int] = field(default_factory=list)
    perplexity: float | None = None


def sample_molecules(
    ctx: TaskContext,
    job: MoleculeJob,
    *,
    num_molecules: int,
    max_samples: int,
    filters: MoleculeFilter,
    reference: frozenset[str] | None,
) -> SampledMolecules:
    """Draw rounds of ``job`` until ``num_molecules`` distinct molecules pass ``filters`` or a budget ends.

    The first round asks for ``num_molecules`` samples; later rounds ask for what is still missing
    divided by the yield so far (distinct passing molecules per sample), within the sample budget and
    at most ``MAX_ROUND`` per round. The best ``num_molecules`` passing molecules are listed; any more
    that the last round passed are kept as ``extra``.
    ``reference`` holds canonical SMILES for novelty (None: novelty unknown).

    Raises:
        BackendError: the model failed.
        GenerationCancelled: the caller cancelled.
    """
    profile = ctx.profile
    drawn = Drawn()
    requested = 0
    found: dict[str, _Found] = {}
    invalid: list[InvalidSample] = []
    described: dict[str, MoleculeProperties | str] = {}  # canonical -> properties, or why none
    valid = 0
    passing = 0
    while passing < num_molecules and requested < max_samples and drawn.stopped_by is None:
        rate = (passing + 1) / (len(drawn.samples) + 1)  # never zero, so a bad start still retries
        wanted = max(1, math.ceil((num_molecules - passing) / rate))
        n = min(max_samples - requested, wanted, MAX_ROUND)
        first = len(drawn.samples)
        requested += n
        draw(
            ctx,
            prompt=job.prompt,
            n=n,
            stop=job.stop,
            max_new_tokens=job.max_new_tokens,
            params=job.params,
            label=job.label,
            drawn=drawn,
        )
        for index in range(first, len(drawn.samples)):
            sample = drawn.samples[index]
            verdict = _judge(sample, job, profile, described)
            if isinstance(verdict, str):
                invalid.append(InvalidSample(index=index, text=clip(sample.text), reason=verdict))
                continue
            valid += 1
            canonical, smiles, props = verdict
            entry = found.get(canonical)
            if entry is None:
                ok, reasons = filters.passes(props)
                entry = found[canonical] = _Found(smiles, props, ok, reasons)
                passing += ok
            entry.samples.append(index)
            ppl = whole_text_perplexity(drawn.prompt_logprobs, sample)
            if ppl is not None and (entry.perplexity is None or ppl < entry.perplexity):
                entry.perplexity = ppl

    partial_reason = drawn.stopped_by
    if passing < num_molecules:
        if partial_reason is None:
            partial_reason = "sample budget"
        partial_reason = (
            f"{partial_reason} ended with {passing} of {num_molecules} molecules passing"
            f"{' the filters' if not filters.is_empty() else ''} after {len(drawn.samples)} samples"
            + (
                f"; raise max_samples (now {max_samples})"
                if partial_reason == "sample budget"
                else "; allow more time"
            )
        )
    else:
        drawn.stopped_by = None  # the target was met in the round the clock ran out: not partial
    canonical_all = [canonical for canonical, entry in found.items() for _ in entry.samples]
    uniqueness, novelty = uniqueness_and_novelty(canonical_all, reference or frozenset())
    passed = _ranked([(c, e) for c, e in found.items() if e.passes], reference)
    return SampledMolecules(
        job=job,
        num_molecules=num_molecules,
        drawn=drawn,
        requested=requested,
        valid=valid,
        molecules=passed[:num_molecules],
        extra=passed[num_molecules:],
        rejected=_ranked([(c, e) for c, e in found.items() if not e.passes], reference),
        invalid=invalid,
        uniqueness=uniqueness,
        novelty=None if reference is None or not found else novelty,
        filter_report=_filter_report(filters, found.values()),
        partial_reason=partial_reason,
    )


def _molecule_text(sample: Sample, job: MoleculeJob, profile: Profile) -> tuple[str | None, str | None]:
    """The SMILES a sample completes (prefix included), or None and why not."""
    start, end = profile.start("molecule"), profile.end("molecule")
    body = sample.text
    if not job.opened:
        if not body.startswith(start):
            return None, f"the answer does not open a molecule block with {start}"
        body = body[len(start) :]
    if sample.finish_reason == "stop" and sample.stop_tag == end and body.endswith(end):
        return job.prefix + body[: -len(end)], None
    unfinished = unfinished_reason(sample)
    if unfinished is not None:
        return None, unfinished
    if sample.stop_tag == EOS:
        return None, f"the model ended the text without closing the molecule block with {end}"
    return None, f"the answer does not end with {end}"


def _judge(
    sample: Sample, job: MoleculeJob, profile: Profile, described: dict[str, MoleculeProperties | str]
) -> tuple[str, str, MoleculeProperties] | str:
    """(canonical SMILES, SMILES as written, properties) of a sample, or why it is unusable.

    ``described`` caches properties (or the reason RDKit could not compute them) by canonical SMILES.
    """
    smiles, problem = _molecule_text(sample, job, profile)
    if smiles is None:
        return problem or "no molecule in the sample"
    foreign = next((ch for ch in smiles if not ch.isascii()), None)
    if foreign is not None:  # SMILES is ASCII; RDKit's error log can also break on such bytes
        return f"SMILES {clip(smiles, 80)!r} holds the non-ASCII character {foreign!r}, which no SMILES uses"
    check = check_smiles(smiles, profile)
    if check.canonical is None:
        return check.reason or f"invalid SMILES {smiles!r}"
    props = described.get(check.canonical)
    if props is None:
        props = described[check.canonical] = _describe(check.canonical, profile)
    if isinstance(props, str):
        return props
    return check.canonical, smiles, props


def _describe(canonical: str, profile: Profile) -> MoleculeProperties | str:
    try:
        return describe_molecule(canonical, profile)
    except InputError as exc:  # RDKit could not compute a property: the sample is unusable, not fatal
        return str(exc)


def _ranked(entries: list[tuple[str, _Found]], reference: frozenset[str] | None) -> list[GeneratedMolecule]:
    entries.sort(key=lambda item: (item[1].perplexity is None, item[1].perplexity or 0.0, item[1].samples[0]))
    return [
        GeneratedMolecule(
            rank=rank,
            smiles=canonical,
            sampled_as=entry.sampled_as,
            count=len(entry.samples),
            sample_indices=entry.samples,
            perplexity=None if entry.perplexity is None else round(entry.perplexity, 4),
            novel=None if reference is None else canonical not in reference,
            passes_filters=entry.passes,
            filter_failures=entry.failures,
            properties=entry.props,
        )
        for rank, (canonical, entry) in enumerate(entries, start=1)
    ]


def _filter_report(filters: MoleculeFilter, found: Collection[_Found]) -> FilterReport:
    limits = filters.model_dump(exclude_defaults=True)
    tally: dict[str, int] = {}
    for entry in found:
        if entry.passes:
            continue
        for name, value in limits.items():  # one limit at a time says which limits each molecule misses
            if not MoleculeFilter.model_validate({name: value}).passes(entry.props)[0]:
                tally[name] = tally.get(name, 0) + 1
    passed = sum(1 for entry in found if entry.passes)
    return FilterReport(
        filters=filters,
        active=not filters.is_empty(),
        passed=passed,
        failed=len(found) - passed,
        failures_by_limit=dict(sorted(tally.items())),
    )
