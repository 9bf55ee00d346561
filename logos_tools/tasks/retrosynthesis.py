"""Retrosynthesis: a product SMILES in, ranked candidate reactant sets out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel
from rdkit import Chem

from logos_tools.errors import DecodeError
from logos_tools.grammar.molecule import canonical_smiles, parse_smiles
from logos_tools.grammar.reaction import MoleculeSetAnswer, build_retrosynthesis_prompt, decode_molecule_set
from logos_tools.tasks.answers import molecule_set_problem, unfinished_reason
from logos_tools.tasks.common import (
    InvalidSample,
    SamplingOptions,
    TaskContext,
    TaskResult,
    clip,
    draw,
    mean_logprob,
    run_report,
    sampling_report,
    whole_text_perplexity,
)


class ReactantSet(BaseModel):
    """One distinct candidate answer: a set of reactants, with how the model liked it."""

    rank: int
    reactants: list[str]
    count: int
    frequency: float
    mean_logprob: float | None
    best_perplexity: float | None
    atoms_accounted: bool
    missing_atoms: dict[str, int]


class RetrosynthesisResult(TaskResult):
    """Candidate reactant sets for a product, most often sampled first."""

    product: str
    candidates: list[ReactantSet]
    validity: float


def element_counts(smiles: Iterable[str]) -> Counter[str]:
    """Heavy-atom counts per element over molecules (hydrogens excluded)."""
    counts: Counter[str] = Counter()
    for value in smiles:
        mol = Chem.MolFromSmiles(value)
        if mol is not None:
            counts.update(atom.GetSymbol() for atom in mol.GetAtoms() if atom.GetAtomicNum() > 1)
    return counts


def missing_heavy_atoms(product: str, reactants: Iterable[str]) -> dict[str, int]:
    """Elements the product has more of than all reactants together (reactants cannot account for them)."""
    need, have = element_counts([product]), element_counts(reactants)
    return {
        element: count - have[element] for element, count in sorted(need.items()) if have[element] < count
    }


def retrosynthesis(
    ctx: TaskContext, product: str, *, num_samples: int | None = None, sampling: SamplingOptions | None = None
) -> RetrosynthesisResult:
    """Propose reactant sets for ``product`` by sampling the LOGOS ``<ReverseReact>`` task.

    Raises:
        EncodeError: the product SMILES is invalid.
        BackendError: the model failed.
    """
    profile = ctx.profile
    parse_smiles(product, what="product SMILES", profile=profile)
    canonical_product = canonical_smiles(product, profile)
    task = profile.task("retrosynthesis")
    n = num_samples or task.samples
    params = (sampling or SamplingOptions()).resolve(profile)
    max_new = task.max_new_tokens if isinstance(task.max_new_tokens, int) else 256
    prompt = build_retrosynthesis_prompt(product, profile)
    drawn = draw(
        ctx, prompt=prompt, n=n, stop=task.stop, max_new_tokens=max_new, params=params, label="retrosynthesis"
    )

    groups: dict[frozenset[str], list[int]] = {}
    invalid: list[InvalidSample] = []
    for index, sample in enumerate(drawn.samples):
        problem = unfinished_reason(sample) if sample.finish_reason != "length" else None
        answer: MoleculeSetAnswer | None = None
        if problem is None:
            try:
                answer = decode_molecule_set(sample.text, profile)
            except DecodeError as exc:
                problem = str(exc)
        if problem is None and answer is not None:
            problem = molecule_set_problem(answer)
        if problem is None and answer is not None and answer.molecules == {canonical_product}:
            problem = "the answer repeats the product"
        if problem is not None or answer is None:
            invalid.append(
                InvalidSample(index=index, text=clip(sample.text), reason=problem or "undecodable")
            )
            continue
        groups.setdefault(answer.molecules, []).append(index)

    valid = sum(len(members) for members in groups.values())
    candidates = []
    for reactants, members in groups.items():
        samples = [drawn.samples[i] for i in members]
        logprobs = [lp for lp in (mean_logprob(s) for s in samples) if lp is not None]
        ppls = [
            p for p in (whole_text_perplexity(drawn.prompt_logprobs, s) for s in samples) if p is not None
        ]
        missing = missing_heavy_atoms(canonical_product, reactants)
        candidates.append(
            ReactantSet(
                rank=0,
                reactants=sorted(reactants),
                count=len(members),
                frequency=round(len(members) / max(len(drawn.samples), 1), 4),
                mean_logprob=round(sum(logprobs) / len(logprobs), 4) if logprobs else None,
                best_perplexity=round(min(ppls), 4) if ppls else None,
                atoms_accounted=not missing,
                missing_atoms=missing,
            )
        )
    candidates.sort(key=lambda c: (-c.count, -(c.mean_logprob if c.mean_logprob is not None else -1e9)))
    for rank, candidate in enumerate(candidates, start=1):
        candidate.rank = rank
    return RetrosynthesisResult(
        product=canonical_product,
        candidates=candidates,
        validity=round(valid / max(len(drawn.samples), 1), 4),
        invalid_samples=invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new),
        run=run_report(ctx, drawn, requested=n, valid=valid),
    )
