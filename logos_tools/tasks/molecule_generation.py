"""Molecule generation: new molecules from LOGOS, unconditionally or continuing a SMILES prefix.

The prompt is the profile's ``molecule_generation`` template (``<MoleculeS>{prefix}``). A sample
continues the prompt, so each molecule is the prefix followed by the sample's text. Molecules are
checked, described, filtered and ranked by the shared loop in ``molecule_sampling``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from logos_tools.errors import EncodeError
from logos_tools.grammar.molecule import check_smiles_text
from logos_tools.grammar.pocket import fill_task
from logos_tools.grammar.profile import Profile
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.molecule_sampling import (
    MoleculeBatchResult,
    MoleculeJob,
    canonical_reference,
    check_counts,
    sample_molecules,
)
from logos_tools.tasks.properties import MoleculeFilter, check_filter

DEFAULT_MAX_NEW_TOKENS = 160  # when the profile says "auto": a drug-sized SMILES is well under this
# Characters of SMILES text (atoms, bonds, branches, rings, charges, stereo): a prefix may be an
# unfinished molecule, so RDKit cannot judge it, but text outside this alphabet is never SMILES.
_SMILES_ALPHABET = re.compile(r"[A-Za-z0-9\[\]()=#$:/\\@+\-.%*]+")


class MoleculeGenerationResult(MoleculeBatchResult):
    """Molecules sampled from LOGOS, with properties, filters and ranking."""

    prefix: str | None = Field(
        description="SMILES prefix every molecule starts with (the model continued it), if one was given."
    )


def generate_molecules(
    ctx: TaskContext,
    *,
    num_molecules: int = 10,
    prefix: str | None = None,
    reference: Sequence[str] | None = None,
    filters: MoleculeFilter | dict[str, Any] | None = None,
    max_samples: int | None = None,
    sampling: SamplingOptions | None = None,
) -> MoleculeGenerationResult:
    """Generate molecules with LOGOS, optionally continuing a SMILES ``prefix``.

    Each molecule is ``prefix`` + the sample's text. Novelty is measured against ``reference`` (a list of
    SMILES) when given; the model's training set is not known, so there is no default reference.
    Samples are drawn in rounds until ``num_molecules`` distinct molecules pass ``filters`` or
    ``max_samples`` (default 4 per molecule) or the time budget runs out.

    Raises:
        EncodeError: the prefix is not SMILES-shaped text (tags, spaces, foreign characters) or a
            reference SMILES is invalid.
        InputError: a bad filter or a count out of range.
        BackendError: the model failed.
    """
    profile = ctx.profile
    budget = check_counts(num_molecules, max_samples)
    limits = check_filter(filters)
    checked_prefix = check_prefix(prefix, profile)
    known = (
        canonical_reference(reference, profile, what="reference_smiles") if reference is not None else None
    )
    task = profile.task("molecule_generation")
    max_new = task.max_new_tokens if isinstance(task.max_new_tokens, int) else DEFAULT_MAX_NEW_TOKENS
    params = (sampling or SamplingOptions()).resolve(profile)
    prompt = fill_task("molecule_generation", profile, prefix=checked_prefix)
    job = MoleculeJob(
        prompt=prompt,
        stop=task.stop,
        max_new_tokens=max_new,
        params=params,
        label="molecule generation",
        opened=prompt.endswith(profile.start("molecule") + checked_prefix),
        prefix=checked_prefix,
    )
    sampled = sample_molecules(
        ctx, job, num_molecules=num_molecules, max_samples=budget, filters=limits, reference=known
    )
    novelty_reference = (
        f"the {len(known)} distinct reference molecules given"
        if known is not None
        else "not measured: the model's training set is not known; pass reference_smiles to measure novelty"
    )
    return sampled.build(
        MoleculeGenerationResult, ctx, novelty_reference=novelty_reference, prefix=checked_prefix or None
    )


def check_prefix(prefix: str | None, profile: Profile) -> str:
    """The prefix as it goes into the prompt ("" for none), after checking it is SMILES-shaped text.

    Raises:
        EncodeError: the prefix holds a tag, whitespace, a reaction arrow or a character no SMILES has.
    """
    if prefix is None or prefix == "":
        return ""
    stripped = check_smiles_text(prefix, "SMILES prefix", profile)
    if not _SMILES_ALPHABET.fullmatch(stripped):
        bad = next(ch for ch in stripped if not _SMILES_ALPHABET.fullmatch(ch))
        raise EncodeError(
            f"The SMILES prefix {stripped!r} holds {bad!r} at position {stripped.index(bad)}, which no SMILES "
            "uses. Pass the start of a SMILES, e.g. 'c1ccccc1C(=O)'."
        )
    return stripped
