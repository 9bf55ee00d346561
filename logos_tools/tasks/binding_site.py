"""Binding-site identification: a protein sequence (or a structure chain) in, pocket residues out.

The LOGOS ``<Search>`` task rewrites the input protein with its pocket residues marked. Many samples
are drawn; each valid one is a set of pocket residues. Residues are then scored by consensus (the
fraction of valid samples marking them) and residues at or above ``min_consensus`` are grouped into
sites by single linkage: two residues belong to the same site when they are at most
``SEQUENCE_LINK`` positions apart in the sequence or, when a structure is given, when their CA atoms
lie within ``CA_LINK_ANGSTROM`` of each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from logos_tools.errors import InputError
from logos_tools.grammar.gbnf import pocket_answer_gbnf
from logos_tools.grammar.pocket import PocketAnswerCheck, build_search_prompt, check_pocket_answer
from logos_tools.grammar.profile import EOS, Profile
from logos_tools.grammar.protein import check_sequence
from logos_tools.grammar.structure import ChainSequence, load_structure
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

SEQUENCE_LINK = 4  # residues at most this many positions apart join one site
CA_LINK_ANGSTROM = 8.0  # residues whose CA atoms are this close join one site (structure input)
# "auto" answer length: the answer repeats the sequence (at most one token per letter: BPE only merges)
# and each pocket mark adds its two tag tokens. Constrained, the tags are single tokens and the exact
# bound is every residue marked on its own (3 tokens per residue): an answer stops at its end tag, so
# a generous bound costs only context room. Unconstrained, budget 4 tokens per mark for up to a
# quarter of the residues (at least 32 marks), which also covers tags spelled as several tokens.
TOKENS_PER_MARK = 4
TOKENS_PER_RESIDUE_CONSTRAINED = 3
MIN_EXPECTED_MARKS = 32
MARKED_FRACTION = 0.25
PROMPT_EXTRA_TOKENS = 8  # BOS and the four tags of the binding-site prompt, with room to spare


class PocketResidue(BaseModel):
    """One residue and how often the valid samples marked it as pocket."""

    index: int = Field(description="0-based index into the sequence.")
    position: int = Field(description="1-based position in the sequence.")
    letter: str = Field(description="One-letter amino-acid code.")
    residue_number: str | None = Field(
        description="Author residue number in the structure file (e.g. '25', '100A'); None for sequence input."
    )
    count: int = Field(description="Valid samples marking this residue.")
    consensus: float = Field(description="Fraction of valid samples marking this residue (0 to 1).")


class PocketSet(BaseModel):
    """One distinct pocket answer: the residues it marks and the valid samples that gave it."""

    rank: int = Field(
        description="1 = lowest whole-text perplexity (the model's most likely answer); ties: more samples first."
    )
    count: int = Field(description="Valid samples that marked exactly these residues.")
    frequency: float = Field(description="count as a fraction of the valid samples (0 to 1).")
    sample_index: int = Field(
        description="Index (among all drawn samples) of the sample with the lowest perplexity giving this set."
    )
    sample_indices: list[int] = Field(description="Indices of every sample giving this set, ascending.")
    positions: list[int] = Field(description="1-based positions of the marked residues.")
    residue_numbers: list[str] | None = Field(
        description="Author residue numbers of the marked residues (structure input only)."
    )
    pocket: str = Field(description="Letters of the marked residues, in sequence order.")
    best_perplexity: float | None = Field(
        description="Lowest perplexity of prompt + answer among its samples (lower is more likely)."
    )


class BindingSite(BaseModel):
    """A group of high-consensus residues close in sequence (or in space, for structure input)."""

    rank: int = Field(description="1 = highest mean consensus.")
    residues: list[PocketResidue]
    size: int = Field(description="Number of residues in the site.")
    mean_consensus: float = Field(description="Mean consensus of the site's residues.")
    positions: list[int] = Field(description="1-based positions of the site's residues.")
    residue_numbers: list[str] | None = Field(
        description="Author residue numbers of the site's residues (structure input only)."
    )


class SampleDivergence(BaseModel):
    """Where an invalid sample stopped following the input sequence."""

    sample_index: int
    index: int = Field(description="0-based sequence index of the first differing residue.")
    position: int = Field(description="1-based position of the first differing residue.")
    residue_number: str | None = Field(description="Its author residue number (structure input only).")
    truncated: bool = Field(description="The answer also lacks its closing tag.")


class BindingSiteResult(TaskResult):
    """Pocket residues found by sampling the LOGOS binding-site task, with consensus and grouped sites."""

    sequence: str = Field(description="The protein sequence the model was given.")
    structure: str | None = Field(description="Structure file the sequence was read from, if any.")
    chain: str | None = Field(description="Chain of the structure file, if any.")
    pocket_sets: list[PocketSet] = Field(
        description="Distinct pocket answers (identical answers of several samples are one entry with their "
        "count), most likely first; the counts add up to the valid samples."
    )
    consensus: list[PocketResidue] = Field(
        description="Every residue marked by at least one valid sample, in sequence order; residues not "
        "listed have consensus 0."
    )
    sites: list[BindingSite] = Field(
        description="Grouped high-consensus residues, highest mean consensus first."
    )
    min_consensus: float = Field(description="Consensus a residue needs to join a site.")
    grouping: str = Field(description="The rule that grouped residues into sites, in words.")
    ranking: str = Field(description="How sites and pocket sets are ordered.")
    validity: float = Field(description="Fraction of drawn samples that are valid answers.")
    divergences: list[SampleDivergence] = Field(
        description="For invalid samples whose letters differ from the input: where they diverged."
    )
    notes: list[str] = Field(description="Facts about the input worth knowing when reading the result.")


def find_binding_sites(
    ctx: TaskContext,
    *,
    sequence: str | None = None,
    structure: str | Path | None = None,
    chain: str | None = None,
    num_samples: int | None = None,
    sampling: SamplingOptions | None = None,
    constrained: bool = True,
    min_consensus: float = 0.5,
    max_new_tokens: int | None = None,
) -> BindingSiteResult:
    """Find pocket residues of a protein with the LOGOS ``<Search>`` task.

    Give either ``sequence`` or a ``structure`` file (PDB/mmCIF) plus ``chain`` (optional when the file
    has one protein chain). With ``constrained`` (the default) decoding follows a grammar that only
    lets the model copy the input letter by letter and choose which residues to mark. ``max_new_tokens``
    overrides the automatic answer length (see the module constants).

    Raises:
        InputError: neither or both inputs, a chain given without a structure, several protein chains
            and no ``chain``, an unknown chain, an unreadable file, or an option out of range.
        EncodeError: the sequence holds a letter outside the 20 standard amino acids.
        BackendError: the model failed.
    """
    profile = ctx.profile
    checked, chain_seq, coords, notes = _input_sequence(sequence, structure, chain)
    chain_id = chain_seq.chain if chain_seq is not None else None
    numbers = chain_seq.residue_numbers if chain_seq is not None else None
    if not 0 < min_consensus <= 1:
        raise InputError(
            f"min_consensus={min_consensus!r} is outside (0, 1]. Pass a fraction of samples, e.g. 0.5."
        )
    task = profile.task("binding_site")
    n = _sample_count(num_samples, task.samples)
    prompt = build_search_prompt(checked, profile)
    max_new = _answer_tokens(ctx, checked, task.max_new_tokens, max_new_tokens, constrained)
    params = (sampling or SamplingOptions()).resolve(profile)
    grammar = pocket_answer_gbnf(checked, profile) if constrained else None
    drawn = draw(
        ctx,
        prompt=prompt,
        n=n,
        stop=task.stop,
        max_new_tokens=max_new,
        params=params,
        label="binding sites",
        grammar=grammar,
    )

    valid: list[tuple[int, tuple[int, ...], float | None]] = []
    invalid: list[InvalidSample] = []
    divergences: list[SampleDivergence] = []
    for index, sample in enumerate(drawn.samples):
        check = check_pocket_answer(_answer_text(sample, profile), checked, profile)
        if check.valid:
            valid.append((index, check.positions, whole_text_perplexity(drawn.prompt_logprobs, sample)))
            continue
        invalid.append(InvalidSample(index=index, text=clip(sample.text), reason=_problem(sample, check)))
        if check.diverged_at is not None:
            at = check.diverged_at
            divergences.append(
                SampleDivergence(
                    sample_index=index,
                    index=at,
                    position=at + 1,
                    residue_number=numbers[at] if numbers is not None and at < len(numbers) else None,
                    truncated=check.truncated,
                )
            )

    consensus = _consensus(checked, [positions for _, positions, _ in valid], numbers)
    sites = _group_sites(consensus, min_consensus, coords, numbers is not None)
    pocket_sets = _distinct_pocket_sets(valid, checked, numbers)
    return BindingSiteResult(
        sequence=checked,
        structure=str(structure) if structure is not None else None,
        chain=chain_id,
        pocket_sets=pocket_sets,
        consensus=consensus,
        sites=sites,
        min_consensus=min_consensus,
        grouping=_grouping_rule(min_consensus, coords is not None),
        ranking="Sites by mean consensus (then size); distinct pocket sets by their best whole-text "
        "perplexity, lowest first (then by sample count).",
        validity=round(len(valid) / max(len(drawn.samples), 1), 4),
        divergences=divergences,
        notes=notes,
        invalid_samples=invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new, constrained=constrained),
        run=run_report(ctx, drawn, requested=n, valid=len(valid)),
    )


def _input_sequence(
    sequence: str | None, structure: str | Path | None, chain: str | None
) -> tuple[str, ChainSequence | None, np.ndarray | None, list[str]]:
    """The checked sequence, its structure chain, CA coordinates (NaN where missing) and notes."""
    if (sequence is None) == (structure is None):
        raise InputError(
            "Give exactly one input: a protein `sequence`, or a `structure` file (PDB/mmCIF) with a "
            f"`chain` (got {'both' if sequence is not None else 'neither'})."
        )
    if sequence is not None:
        if chain is not None:
            raise InputError(
                f"chain={chain!r} was given with a sequence; a chain only selects a protein chain of a "
                "`structure` file. Drop `chain`, or pass the structure file."
            )
        return check_sequence(sequence), None, None, []
    assert structure is not None
    loaded = load_structure(structure)
    summary = loaded.summary
    if chain is None:
        if len(summary.chains) > 1:
            listed = ", ".join(f"{cid} ({len(c.sequence)} residues)" for cid, c in summary.chains.items())
            raise InputError(
                f"{summary.path} has several protein chains: {listed}. Pass `chain`, e.g. "
                f"chain={next(iter(summary.chains))!r}."
            )
        chain = next(iter(summary.chains))
    chain_seq = summary.chain(chain)
    coords = np.full((len(chain_seq.sequence), 3), np.nan)
    for residue in loaded.model.get_residues():
        where = loaded.index.get(id(residue))
        if where is not None and where[0] == chain and "CA" in residue:
            coords[where[1]] = residue["CA"].coord
    notes: list[str] = []
    if chain_seq.breaks:
        gaps = ", ".join(f"{b.before}-{b.after}" for b in chain_seq.breaks)
        notes.append(
            f"Chain {chain} has {len(chain_seq.breaks)} chain break(s) ({gaps}); the sequence joins the "
            "observed residues without filling the gaps."
        )
    if chain_seq.modified:
        listed = ", ".join(f"{m.name} {m.residue_number} as {m.letter}" for m in chain_seq.modified)
        notes.append(f"Modified residues are written with their parent letter: {listed}.")
    missing_ca = [chain_seq.residue_numbers[i] for i in range(len(coords)) if np.isnan(coords[i, 0])]
    if missing_ca:
        notes.append(
            f"Residues without a CA atom link to sites by sequence only: {', '.join(missing_ca[:20])}."
        )
    return chain_seq.sequence, chain_seq, coords, notes


def _sample_count(num_samples: int | None, default: int) -> int:
    if num_samples is None:
        return default
    if isinstance(num_samples, bool) or not 1 <= num_samples <= 1024:
        raise InputError(f"num_samples={num_samples!r} is out of range: ask for 1 to 1024 samples, e.g. 40.")
    return num_samples


def _answer_tokens(
    ctx: TaskContext, sequence: str, configured: int | str, override: int | None, constrained: bool
) -> int:
    """Tokens allowed for one answer: the override, the profile's number, or the "auto" estimate."""
    if override is not None:
        if isinstance(override, bool) or not 1 <= override <= 32768:
            raise InputError(f"max_new_tokens={override!r} is out of range: use 1 to 32768.")
        return override
    if isinstance(configured, int):
        return configured
    length = len(sequence)
    if constrained:
        estimate = TOKENS_PER_RESIDUE_CONSTRAINED * length + 1  # + the protein end tag
    else:
        marks = max(MIN_EXPECTED_MARKS, math.ceil(length * MARKED_FRACTION))
        estimate = length + TOKENS_PER_MARK * marks + 1
    n_ctx = ctx.backend.info.n_ctx  # None until a local model is loaded, or for remote servers
    if n_ctx is None:
        return estimate
    # The prompt holds the sequence once; when even that leaves no room the runtime's own error
    # (exact token counts) is the better message, so the estimate goes through unchanged.
    room = n_ctx - (length + PROMPT_EXTRA_TOKENS)
    return min(estimate, room) if room > 0 else estimate


def _answer_text(sample: Sample, profile: Profile) -> str:
    """The sample's text, less a tag cut in half by the token limit or deadline.

    A model that spells a tag as several ordinary tokens can be cut inside it ("...G<Pock"); read as
    letters, that stub would look like a divergence from the input instead of the truncation it is.
    """
    text = sample.text
    if sample.finish_reason not in ("length", "deadline"):
        return text
    cut = text.rfind("<")
    if cut >= 0 and any(tag.startswith(text[cut:]) and tag != text[cut:] for tag in profile.all_tags()):
        return text[:cut]
    return text


def _problem(sample: Sample, check: PocketAnswerCheck) -> str:
    """Why a sample is not a valid answer, with how it ended when that explains it."""
    reason = check.reason or "not a valid pocket-marked protein"
    if sample.finish_reason == "stop" and sample.stop_tag == EOS and check.truncated:
        return f"the model ended the text before closing the protein block: {reason}"
    unfinished = unfinished_reason(sample)
    if unfinished is not None and check.truncated:
        return f"{unfinished}: {reason}"
    return reason


def _distinct_pocket_sets(
    valid: Sequence[tuple[int, tuple[int, ...], float | None]], sequence: str, numbers: Sequence[str] | None
) -> list[PocketSet]:
    """One entry per distinct set of marked positions, with its samples; most likely first."""
    groups: dict[tuple[int, ...], list[tuple[int, float | None]]] = {}
    for index, positions, ppl in valid:
        groups.setdefault(positions, []).append((index, ppl))

    def best(members: list[tuple[int, float | None]]) -> tuple[int, float | None]:
        # lowest perplexity, an unscored sample last, the earliest sample among equals
        return min(members, key=lambda m: (m[1] is None, m[1] or 0.0, m[0]))

    ordered = sorted(
        groups.items(),
        key=lambda item: (best(item[1])[1] is None, best(item[1])[1] or 0.0, -len(item[1]), item[1][0][0]),
    )
    sets = []
    for rank, (positions, members) in enumerate(ordered, start=1):
        index, ppl = best(members)
        sets.append(
            PocketSet(
                rank=rank,
                count=len(members),
                frequency=round(len(members) / len(valid), 4),
                sample_index=index,
                sample_indices=sorted(m[0] for m in members),
                positions=[p + 1 for p in positions],
                residue_numbers=[numbers[p] for p in positions] if numbers is not None else None,
                pocket="".join(sequence[p] for p in positions),
                best_perplexity=round(ppl, 4) if ppl is not None else None,
            )
        )
    return sets


def _consensus(
    sequence: str, pocket_sets: Sequence[tuple[int, ...]], numbers: Sequence[str] | None
) -> list[PocketResidue]:
    counts: dict[int, int] = {}
    for positions in pocket_sets:
        for position in positions:
            counts[position] = counts.get(position, 0) + 1
    total = len(pocket_sets)
    return [
        PocketResidue(
            index=index,
            position=index + 1,
            letter=sequence[index],
            residue_number=numbers[index] if numbers is not None else None,
            count=count,
            consensus=round(count / total, 4),
        )
        for index, count in sorted(counts.items())
    ]


def _group_sites(
    consensus: Sequence[PocketResidue], threshold: float, coords: np.ndarray | None, numbered: bool
) -> list[BindingSite]:
    """Single-linkage groups of the residues at or above ``threshold``, best mean consensus first."""
    members = [residue for residue in consensus if residue.consensus >= threshold]
    parent = list(range(len(members)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in range(len(members)):
        for b in range(a + 1, len(members)):
            if _linked(members[a].index, members[b].index, coords):
                parent[root(b)] = root(a)
    groups: dict[int, list[PocketResidue]] = {}
    for k, residue in enumerate(members):
        groups.setdefault(root(k), []).append(residue)
    sites = []
    for residues in groups.values():
        mean = sum(r.consensus for r in residues) / len(residues)
        sites.append(
            BindingSite(
                rank=0,
                residues=residues,
                size=len(residues),
                mean_consensus=round(mean, 4),
                positions=[r.position for r in residues],
                residue_numbers=[r.residue_number or "" for r in residues] if numbered else None,
            )
        )
    sites.sort(key=lambda s: (-s.mean_consensus, -s.size, s.positions[0]))
    for rank, site in enumerate(sites, start=1):
        site.rank = rank
    return sites


def _linked(a: int, b: int, coords: np.ndarray | None) -> bool:
    if abs(a - b) <= SEQUENCE_LINK:
        return True
    if coords is None or np.isnan(coords[a, 0]) or np.isnan(coords[b, 0]):
        return False
    return bool(np.linalg.norm(coords[a] - coords[b]) <= CA_LINK_ANGSTROM)


def _grouping_rule(threshold: float, spatial: bool) -> str:
    space = (
        f", or when their CA atoms are within {CA_LINK_ANGSTROM:g} Å in the structure"
        if spatial
        else " (no structure given, so sequence proximity only)"
    )
    return (
        f"Residues marked by at least {threshold:.0%} of valid samples, grouped by single linkage: two "
        f"residues join one site when at most {SEQUENCE_LINK} positions apart in the sequence{space}."
    )
