"""Forward reaction prediction: reactant SMILES in, ranked candidate product sets out."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from logos_tools.errors import InputError
from logos_tools.grammar.molecule import canonical_smiles
from logos_tools.grammar.reaction import build_forward_prompt
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

MAX_REACTANTS = 10
MAX_SAMPLES = 256


class ProductSet(SetStatistics):
    """One distinct predicted answer: a set of products, with how often and how confidently it came."""

    products: list[MoleculeRef] = Field(description="The products, canonical SMILES in sorted order.")
    atoms_balanced: bool = Field(
        description="True when, for every element, the products hold no more heavy atoms than the reactants."
    )
    excess_atoms: dict[str, int] = Field(
        description="Heavy atoms per element the products hold beyond what the reactants supply."
    )


class ReactionPredictionResult(TaskResult):
    """Candidate product sets for some reactants, most often sampled first."""

    reactants: list[str] = Field(description="The reactants as canonical SMILES, in the order given.")
    candidates: list[ProductSet] = Field(description="Distinct product sets, best first.")
    validity: float = Field(description="Fraction of samples that gave a usable product set.")
    ranking: str = Field(default=RANKING, description="How candidates are ordered.")


def split_reactants(reactants: Sequence[str] | str) -> list[str]:
    """The reactant SMILES of a list, or of one dot-joined string (``'CC(=O)O.OCC'``).

    Raises:
        InputError: no reactant, an empty part between dots, reaction arrows, or too many reactants.
    """
    if isinstance(reactants, str):
        text = reactants.strip()
        if ">" in text.replace("->", "").replace("<-", ""):
            raise InputError(
                f"Reactants {reactants!r} look like a reaction SMILES ('>' found). Pass the reactants "
                "only, as a list of SMILES or joined by dots, e.g. 'CC(=O)O.OCC'."
            )
        parts = text.split(".") if text else []
        if any(not part.strip() for part in parts):
            raise InputError(
                f"Reactants {reactants!r} have an empty part between dots. Separate reactants with "
                "single dots, e.g. 'CC(=O)O.OCC', or pass a list of SMILES."
            )
        values = [part.strip() for part in parts]
    else:
        values = list(reactants)
    if not values:
        raise InputError("No reactants given. Pass at least one reactant SMILES, e.g. ['CC(=O)O', 'OCC'].")
    if len(values) > MAX_REACTANTS:
        raise InputError(
            f"{len(values)} reactants given, more than the limit of {MAX_REACTANTS}. Pass the reacting "
            "molecules only (no solvents or reagents)."
        )
    return values


def _max_new_tokens(value: int | str, reactants: Sequence[str]) -> int:
    if isinstance(value, int):
        return value
    # "auto": a SMILES token covers at least one character, and products rarely outgrow the reactants
    # joined; twice that plus tags and slack is a safe bound.
    return 2 * sum(len(s) for s in reactants) + 8 * len(reactants) + 64


def predict_reaction(
    ctx: TaskContext,
    reactants: Sequence[str] | str,
    *,
    num_samples: int | None = None,
    sampling: SamplingOptions | None = None,
) -> ReactionPredictionResult:
    """Predict the products of ``reactants`` by sampling the LOGOS ``<React>`` task.

    Samples are decoded as canonical product sets; equal sets are one candidate. An answer that only
    repeats reactants (all of them or some) is invalid: it predicts no new product.

    Raises:
        InputError: no reactants, a malformed dot-joined string, or ``num_samples`` out of range.
        EncodeError: a reactant SMILES is invalid (the message names which one).
        BackendError: the model failed.
    """
    profile = ctx.profile
    values = split_reactants(reactants)
    if num_samples is not None and not 1 <= num_samples <= MAX_SAMPLES:
        raise InputError(f"num_samples={num_samples} is out of range: ask for 1 to {MAX_SAMPLES} samples.")
    prompt = build_forward_prompt(values, profile)
    canonical = [canonical_smiles(s, profile) for s in values]
    task = profile.task("forward_reaction")
    n = num_samples or task.samples
    params = (sampling or SamplingOptions()).resolve(profile)
    max_new = _max_new_tokens(task.max_new_tokens, canonical)
    drawn = draw(
        ctx,
        prompt=prompt,
        n=n,
        stop=task.stop,
        max_new_tokens=max_new,
        params=params,
        label="predict_reaction",
    )
    reactant_set = frozenset(canonical)
    grouped = group_molecule_sets(
        drawn,
        profile,
        # Every "product" an unchanged reactant (all of them, or only some, e.g. ['CCO'] from
        # ['CC(=O)Cl', 'CCO']) predicts no reaction at all, so it is not a product set.
        reject=lambda molecules: (
            "the answer only repeats the reactants" if molecules <= reactant_set else None
        ),
    )
    candidates = []
    for group in grouped.ranked:
        excess = excess_heavy_atoms(group.molecules, canonical)
        candidates.append(
            ProductSet(
                **SetStatistics.of(group),
                products=[MoleculeRef(smiles=s) for s in sorted(group.molecules)],
                atoms_balanced=not excess,
                excess_atoms=excess,
            )
        )
    return ReactionPredictionResult(
        reactants=canonical,
        candidates=candidates,
        validity=round(grouped.valid / max(len(drawn.samples), 1), 4),
        invalid_samples=grouped.invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new),
        run=run_report(ctx, drawn, requested=n, valid=grouped.valid),
    )
