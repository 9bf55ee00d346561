"""Ligand design for a pocket: a protein with its pocket residues in, drug-like molecules out.

The pocket comes from a complex structure (the residues around a ligand, or residue numbers the
caller names) or from a pocket-marked sequence. The prompt is the pocket-marked protein followed by the
start of a molecule block (``ligand_prompt.build_ligand_prompt``); each sample is one ligand SMILES.
Molecules are checked, described (QED, SA score, MW, ...), filtered and ranked by the shared loop in
``molecule_sampling``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from logos_tools.errors import DecodeError, InputError
from logos_tools.grammar.complex_pocket import pocket_from_complex
from logos_tools.grammar.ligand_prompt import VARIANTS, LigandPromptVariant, build_ligand_prompt
from logos_tools.grammar.pocket import decode_pocket_protein
from logos_tools.grammar.pocket_smiles import decode_expanded_pocket
from logos_tools.grammar.protein import check_sequence
from logos_tools.grammar.structure import read_structure
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

PocketSource = Literal["ligand", "residues", "pocket_sequence"]


class LigandPocket(BaseModel):
    """The pocket the ligands were designed for."""

    source: PocketSource = Field(
        description="Where the pocket came from: residues near a ligand, named residues, or a given "
        "pocket-marked sequence."
    )
    chain: str | None = Field(description="Protein chain of the structure file, if any.")
    sequence: str = Field(description="The protein sequence written into the prompt.")
    positions: list[int] = Field(description="1-based positions of the pocket residues in the sequence.")
    residue_numbers: list[str] | None = Field(
        description="Author residue numbers of the pocket residues (structure input only)."
    )
    pocket: str = Field(description="Letters of the pocket residues, in sequence order.")
    ligand: str | None = Field(
        description="The structure's ligand that defined the pocket, e.g. 'XK2 A 263'."
    )
    cutoff_angstrom: float | None = Field(
        description="Heavy-atom distance to the ligand that defined the pocket residues."
    )


class LigandDesignResult(MoleculeBatchResult):
    """Molecules designed for a protein pocket, with properties, filters and ranking."""

    pocket: LigandPocket
    prompt_variant: str = Field(description="Protein form in the prompt: 'plain', 'letter' or 'smiles'.")
    reference_ligand: str | None = Field(
        description="Canonical SMILES of the reference ligand novelty is measured against, if known."
    )


@dataclass(frozen=True)
class _Pocket:
    report: LigandPocket
    positions0: tuple[int, ...]


def design_ligands(
    ctx: TaskContext,
    *,
    structure: str | Path | None = None,
    ligand: str | None = None,
    chain: str | None = None,
    residues: Sequence[str | int] | None = None,
    ligand_chain: str | None = None,
    ligand_resnum: int | None = None,
    pocket_cutoff: float | None = None,
    pocket_sequence: str | None = None,
    pocket_positions: Sequence[int] | None = None,
    reference_smiles: str | None = None,
    num_molecules: int = 10,
    filters: MoleculeFilter | dict[str, Any] | None = None,
    max_samples: int | None = None,
    variant: LigandPromptVariant | None = None,
    sampling: SamplingOptions | None = None,
) -> LigandDesignResult:
    """Design ligands for a protein pocket by sampling LOGOS on the pocket-marked protein.

    The pocket is either (a) ``structure`` + ``ligand`` (residues within ``pocket_cutoff`` Å of that
    HETATM ligand; ``ligand_chain`` / ``ligand_resnum`` pick one copy), (b) ``structure`` + ``residues``
    (author residue numbers of ``chain``), or (c) ``pocket_sequence``: a pocket-marked
    ``<ProteinS>...<ProteinE>`` text, or a plain sequence with 1-based ``pocket_positions``. PDB and
    mmCIF files carry no ligand bond orders, so novelty against the reference ligand needs
    ``reference_smiles``; without it novelty is None and the result says why. Samples are drawn in rounds
    until ``num_molecules`` distinct molecules pass ``filters`` or ``max_samples`` (default 4 per
    molecule) or the time budget runs out.

    Raises:
        InputError: inputs missing or combined wrongly, an unknown chain, ligand or residue, an
            unreadable file, a bad filter, or a count out of range.
        EncodeError: the sequence, a pocket position or ``reference_smiles`` is invalid.
        BackendError: the model failed.
    """
    profile = ctx.profile
    budget = check_counts(num_molecules, max_samples)
    limits = check_filter(filters)
    chosen = profile.unpublished.ligand_prompt_variant if variant is None else variant
    if chosen not in VARIANTS:
        raise InputError(f"variant={chosen!r} is unknown. Use one of: {', '.join(VARIANTS)}.")
    pocket = _pocket(
        ctx,
        structure=structure,
        ligand=ligand,
        chain=chain,
        residues=residues,
        ligand_chain=ligand_chain,
        ligand_resnum=ligand_resnum,
        cutoff=pocket_cutoff,
        pocket_sequence=pocket_sequence,
        pocket_positions=pocket_positions,
    )
    if not pocket.positions0 and chosen != "plain":
        raise InputError(
            f"The {chosen!r} prompt variant marks the pocket, but the pocket has no residue. Pass "
            "pocket_positions (1-based), residues or a ligand."
        )
    reference = (
        canonical_reference([reference_smiles], profile, what="reference_smiles")
        if reference_smiles is not None
        else None
    )
    task = profile.task("ligand_design")
    max_new = task.max_new_tokens if isinstance(task.max_new_tokens, int) else DEFAULT_MAX_NEW_TOKENS
    params = (sampling or SamplingOptions()).resolve(profile)
    prompt = build_ligand_prompt(pocket.report.sequence, pocket.positions0, profile, variant=chosen)
    job = MoleculeJob(
        prompt=prompt,
        stop=task.stop,
        max_new_tokens=max_new,
        params=params,
        label="ligand design",
        opened=prompt.endswith(profile.start("molecule")),
    )
    sampled = sample_molecules(
        ctx, job, num_molecules=num_molecules, max_samples=budget, filters=limits, reference=reference
    )
    return sampled.build(
        LigandDesignResult,
        ctx,
        novelty_reference=_novelty_reference(reference, pocket.report),
        pocket=pocket.report,
        prompt_variant=chosen,
        reference_ligand=next(iter(reference)) if reference else None,
    )


def _novelty_reference(reference: frozenset[str] | None, pocket: LigandPocket) -> str:
    if reference is not None:
        return f"the reference ligand {next(iter(reference))} (given as reference_smiles)"
    if pocket.ligand is not None:
        return (
            f"not measured: the structure file gives no bond orders for ligand {pocket.ligand}, so its "
            "SMILES cannot be derived without guessing; pass reference_smiles to measure novelty against it"
        )
    return "not measured: no reference ligand; pass reference_smiles to measure novelty against it"


def _pocket(
    ctx: TaskContext,
    *,
    structure: str | Path | None,
    ligand: str | None,
    chain: str | None,
    residues: Sequence[str | int] | None,
    ligand_chain: str | None,
    ligand_resnum: int | None,
    cutoff: float | None,
    pocket_sequence: str | None,
    pocket_positions: Sequence[int] | None,
) -> _Pocket:
    """The pocket from whichever input was given, after checking the inputs fit together."""
    if (structure is None) == (pocket_sequence is None):
        raise InputError(
            "Give exactly one pocket input: a `structure` file with a `ligand` or `residues`, or a "
            f"`pocket_sequence` (got {'both' if structure is not None else 'neither'})."
        )
    if pocket_sequence is not None:
        stray = [
            name
            for name, value in (
                ("ligand", ligand),
                ("chain", chain),
                ("residues", residues),
                ("ligand_chain", ligand_chain),
                ("ligand_resnum", ligand_resnum),
                ("pocket_cutoff", cutoff),
            )
            if value is not None
        ]
        if stray:
            raise InputError(
                f"{', '.join(stray)} only apply to a `structure` file, but a `pocket_sequence` was given. "
                "Drop them, or pass the structure instead of the sequence."
            )
        return _pocket_of_sequence(ctx, pocket_sequence, pocket_positions)
    assert structure is not None
    if pocket_positions is not None:
        raise InputError(
            "pocket_positions only apply to a `pocket_sequence`; with a structure file pass `residues` "
            "(author residue numbers) or a `ligand`."
        )
    if (ligand is None) == (residues is None):
        raise InputError(
            "With a structure file, give exactly one of `ligand` (the pocket is the residues around it) "
            f"or `residues` (author residue numbers) (got {'both' if ligand is not None else 'neither'})."
        )
    if ligand is not None:
        found = pocket_from_complex(
            structure,
            ligand=ligand,
            chain=chain,
            ligand_chain=ligand_chain,
            ligand_resnum=ligand_resnum,
            cutoff=cutoff,
            profile=ctx.profile,
        )
        report = LigandPocket(
            source="ligand",
            chain=found.chain,
            sequence=found.sequence,
            positions=[p + 1 for p in found.positions],
            residue_numbers=list(found.residue_numbers),
            pocket="".join(found.sequence[p] for p in found.positions),
            ligand=f"{found.ligand_name} {found.ligand_chain} {found.ligand_resnum}",
            cutoff_angstrom=found.cutoff,
        )
        return _Pocket(report, found.positions)
    assert residues is not None
    stray = [
        name
        for name, value in (
            ("ligand_chain", ligand_chain),
            ("ligand_resnum", ligand_resnum),
            ("pocket_cutoff", cutoff),
        )
        if value is not None
    ]
    if stray:
        raise InputError(
            f"{', '.join(stray)} only apply with a `ligand`; the pocket is given as `residues`. Drop them."
        )
    summary = read_structure(structure)
    if chain is None:
        if len(summary.chains) > 1:
            raise InputError(
                f"{summary.path} has several protein chains ({', '.join(summary.chains)}); the residues "
                f"{list(residues)!r} need one. Pass `chain`, e.g. chain={next(iter(summary.chains))!r}."
            )
        chain = next(iter(summary.chains))
    chain_seq = summary.chain(chain)
    if not residues:
        raise InputError("`residues` is empty. Pass the pocket's author residue numbers, e.g. ['25', '27'].")
    indices: list[int] = []
    for number in residues:
        index = chain_seq.index_of(number)
        if index in indices:
            raise InputError(f"Residue {number!r} is given twice in `residues`. Pass each residue once.")
        indices.append(index)
    positions0 = tuple(sorted(indices))
    report = LigandPocket(
        source="residues",
        chain=chain,
        sequence=chain_seq.sequence,
        positions=[p + 1 for p in positions0],
        residue_numbers=[chain_seq.residue_numbers[p] for p in positions0],
        pocket="".join(chain_seq.sequence[p] for p in positions0),
        ligand=None,
        cutoff_angstrom=None,
    )
    return _Pocket(report, positions0)


def _pocket_of_sequence(ctx: TaskContext, text: str, positions1: Sequence[int] | None) -> _Pocket:
    profile = ctx.profile
    if text.lstrip().startswith(profile.start("protein")):
        if positions1 is not None:
            raise InputError(
                "pocket_positions were given with an already pocket-marked `pocket_sequence`. Pass one: "
                "the marked text, or a plain sequence with pocket_positions."
            )
        try:
            marked = decode_pocket_protein(text.strip(), profile)
        except DecodeError as letter_error:
            try:
                marked = decode_expanded_pocket(text.strip(), profile)
            except DecodeError:
                raise InputError(
                    f"pocket_sequence is not a pocket-marked protein: {letter_error} Write it as "
                    f"{profile.start('protein')}MK{profile.wrap('pocket', 'T')}AV...{profile.end('protein')}, "
                    "or pass a plain sequence with pocket_positions."
                ) from None
        sequence, positions0 = marked.sequence, marked.positions
    else:
        sequence = check_sequence(text, what="pocket_sequence")
        positions0 = _positions0(positions1 or (), len(sequence))
    report = LigandPocket(
        source="pocket_sequence",
        chain=None,
        sequence=sequence,
        positions=[p + 1 for p in positions0],
        residue_numbers=None,
        pocket="".join(sequence[p] for p in positions0),
        ligand=None,
        cutoff_angstrom=None,
    )
    return _Pocket(report, positions0)


def _positions0(positions1: Sequence[int], length: int) -> tuple[int, ...]:
    """0-based indices of 1-based pocket positions, each checked in range and given once."""
    seen: set[int] = set()
    for position in positions1:
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= length:
            raise InputError(
                f"Pocket position {position!r} is outside the {length}-residue sequence. Pass 1-based "
                f"positions from 1 to {length}."
            )
        if position - 1 in seen:
            raise InputError(f"Pocket position {position} is given twice. Pass each position once.")
        seen.add(position - 1)
    return tuple(sorted(seen))
