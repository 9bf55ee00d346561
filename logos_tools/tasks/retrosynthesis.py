"""Retrosynthesis: a product SMILES in, ranked candidate reactant sets out."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from logos_tools.grammar.molecule import canonical_smiles, parse_smiles
from logos_tools.grammar.reaction import build_retrosynthesis_prompt
from logos_tools.tasks.common import (
    MoleculeRef,
    SamplingOptions,
    TaskContext,
    TaskResult,
    draw,
    run_report,
    sampling_report,
)
from logos_tools.tasks.molecule_sets import RANKING, SetStatistics, excess_heavy_atoms, group_molecule_sets


class ReactantSet(SetStatistics):
    """One distinct candidate answer: a set of reactants, with how the model liked it."""

    reactants: list[MoleculeRef] = Field(description="The reactants, canonical SMILES in sorted order.")
    atoms_accounted: bool = Field(description="False when the reactants lack heavy atoms the product has.")
    missing_atoms: dict[str, int] = Field(
        description="Element -> how many product atoms no reactant supplies."
    )


class RetrosynthesisResult(TaskResult):
    """Candidate reactant sets for a product, most often sampled first."""

    product: str = Field(description="The product as canonical SMILES.")
    candidates: list[ReactantSet] = Field(description="Distinct reactant sets, best first.")
    validity: float = Field(description="Fraction of samples that gave a usable reactant set.")
    ranking: str = Field(default=RANKING, description="How candidates are ordered.")


def missing_heavy_atoms(product: str, reactants: Iterable[str]) -> dict[str, int]:
    """Elements the product has more of than all reactants together (reactants cannot account for them)."""
    return excess_heavy_atoms([product], reactants)


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
    grouped = group_molecule_sets(
        drawn,
        profile,
        reject=lambda molecules: (
            "the answer contains the product itself" if canonical_product in molecules else None
        ),
    )
    candidates = []
    for group in grouped.ranked:
        missing = missing_heavy_atoms(canonical_product, group.molecules)
        candidates.append(
            ReactantSet(
                **SetStatistics.of(group),
                reactants=[MoleculeRef(smiles=s) for s in sorted(group.molecules)],
                atoms_accounted=not missing,
                missing_atoms=missing,
            )
        )
    return RetrosynthesisResult(
        product=canonical_product,
        candidates=candidates,
        validity=round(grouped.valid / max(len(drawn.samples), 1), 4),
        invalid_samples=grouped.invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new),
        run=run_report(ctx, drawn, requested=n, valid=grouped.valid),
    )
