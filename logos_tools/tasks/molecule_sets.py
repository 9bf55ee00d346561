"""Molecule-set answers shared by the reaction tasks: grouping samples into ranked candidate sets, and
heavy-atom bookkeeping between the two sides of a reaction.

Retrosynthesis and forward-reaction prediction both sample an answer that is a SET of molecule blocks
after a task token. Samples whose canonical sets are equal are one candidate; candidates are ranked by
how often they were sampled, then by mean per-token log-probability.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from rdkit import Chem

from logos_tools.errors import DecodeError
from logos_tools.grammar.molecule import rdkit_errors
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.reaction import MoleculeSetAnswer, decode_molecule_set
from logos_tools.tasks.answers import molecule_set_problem, unfinished_reason
from logos_tools.tasks.common import Drawn, InvalidSample, clip, mean_logprob, whole_text_perplexity

RANKING = "most often sampled first, ties broken by the higher mean per-token log-probability"

# Why a decoded, well-formed set is still not an answer (e.g. it repeats the input), or None.
SetRejection = Callable[[frozenset[str]], str | None]


@dataclass(frozen=True)
class RankedSet:
    """One distinct molecule set sampled one or more times, with how the model liked it."""

    rank: int
    molecules: frozenset[str]
    sample_indices: tuple[int, ...]
    frequency: float
    mean_logprob: float | None
    best_perplexity: float | None

    @property
    def count(self) -> int:
        """How many samples gave this set."""
        return len(self.sample_indices)


class SetStatistics(BaseModel):
    """How the model liked one distinct molecule-set answer (shared by reaction candidates)."""

    rank: int = Field(description="1 is the best candidate: most often sampled, then highest mean log-prob.")
    count: int = Field(description="Samples that gave exactly this set.")
    frequency: float = Field(description="count / samples drawn.")
    mean_logprob: float | None = Field(description="Mean per-token log-probability over those samples.")
    best_perplexity: float | None = Field(
        description="Lowest whole-text (prompt + answer) perplexity among those samples."
    )

    @classmethod
    def of(cls, group: RankedSet) -> dict[str, Any]:
        """The statistics fields of ``group``, to spread into a candidate model."""
        return {
            "rank": group.rank,
            "count": group.count,
            "frequency": group.frequency,
            "mean_logprob": group.mean_logprob,
            "best_perplexity": group.best_perplexity,
        }


@dataclass(frozen=True)
class GroupedSets:
    """Every sample of a run accounted for: ranked candidate sets, or invalid with its reason."""

    ranked: list[RankedSet]
    invalid: list[InvalidSample]

    @property
    def valid(self) -> int:
        """Samples that gave a usable set."""
        return sum(candidate.count for candidate in self.ranked)


def group_molecule_sets(drawn: Drawn, profile: Profile, *, reject: SetRejection | None = None) -> GroupedSets:
    """Decode every sample of ``drawn`` as a molecule set, group equal sets and rank the groups.

    A sample is invalid (kept with its reason) when it was cut by the time budget or a grammar
    constraint, is structurally broken, holds an invalid or truncated block or unexpected content,
    holds no molecule, or ``reject`` names a reason for its set.
    """
    groups: dict[frozenset[str], list[int]] = {}
    invalid: list[InvalidSample] = []
    for index, sample in enumerate(drawn.samples):
        # A sample that hit the token limit may still hold complete blocks only: decoding decides.
        problem = unfinished_reason(sample) if sample.finish_reason != "length" else None
        answer: MoleculeSetAnswer | None = None
        if problem is None:
            try:
                answer = decode_molecule_set(sample.text, profile)
            except DecodeError as exc:
                problem = str(exc)
        if problem is None and answer is not None:
            problem = molecule_set_problem(answer)
            if answer.truncated and sample.finish_reason == "stop":
                # The model itself ended the text (end of generation) inside a block: no token limit
                # cut it, so "truncated" would send the caller to raise a limit that does not exist.
                problem = (
                    "the model ended the text before closing its last molecule block with "
                    f"{profile.end('molecule')}"
                )
        if problem is None and answer is not None and reject is not None:
            problem = reject(answer.molecules)
        if problem is not None or answer is None:
            invalid.append(
                InvalidSample(index=index, text=clip(sample.text), reason=problem or "undecodable")
            )
            continue
        groups.setdefault(answer.molecules, []).append(index)

    total = max(len(drawn.samples), 1)
    unranked: list[RankedSet] = []
    for molecules, members in groups.items():
        samples = [drawn.samples[i] for i in members]
        logprobs = [lp for lp in (mean_logprob(s) for s in samples) if lp is not None]
        ppls = [
            p for p in (whole_text_perplexity(drawn.prompt_logprobs, s) for s in samples) if p is not None
        ]
        unranked.append(
            RankedSet(
                rank=0,
                molecules=molecules,
                sample_indices=tuple(members),
                frequency=round(len(members) / total, 4),
                mean_logprob=round(sum(logprobs) / len(logprobs), 4) if logprobs else None,
                best_perplexity=round(min(ppls), 4) if ppls else None,
            )
        )
    unranked.sort(key=lambda c: (-c.count, -(c.mean_logprob if c.mean_logprob is not None else -1e9)))
    ranked = [
        RankedSet(
            rank=rank,
            molecules=c.molecules,
            sample_indices=c.sample_indices,
            frequency=c.frequency,
            mean_logprob=c.mean_logprob,
            best_perplexity=c.best_perplexity,
        )
        for rank, c in enumerate(unranked, start=1)
    ]
    return GroupedSets(ranked=ranked, invalid=invalid)


def element_counts(smiles: Iterable[str]) -> Counter[str]:
    """Heavy-atom counts per element over molecules (hydrogens excluded; unreadable SMILES skipped)."""
    counts: Counter[str] = Counter()
    for value in smiles:
        with rdkit_errors():
            mol = Chem.MolFromSmiles(value)
        if mol is not None:
            counts.update(atom.GetSymbol() for atom in mol.GetAtoms() if atom.GetAtomicNum() > 1)
    return counts


def excess_heavy_atoms(side: Iterable[str], source: Iterable[str]) -> dict[str, int]:
    """Elements ``side`` has more heavy atoms of than ``source`` (which cannot account for them).

    For a reaction, ``side`` is the products and ``source`` the reactants: an empty result means the
    reactants hold every heavy atom the products need.
    """
    need, have = element_counts(side), element_counts(source)
    return {
        element: count - have[element] for element, count in sorted(need.items()) if have[element] < count
    }
