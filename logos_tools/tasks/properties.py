"""Molecule properties for ranking and filtering generated molecules (RDKit).

Definitions (all RDKit's own, so numbers match what a chemist gets from RDKit directly):

- ``mw``: average molecular weight (``Descriptors.MolWt``); ``logp``: Crippen cLogP; ``tpsa``: topological
  polar surface area (N and O only); ``hbd`` / ``hba``: ``Lipinski.NumHDonors`` / ``NumHAcceptors``.
- ``qed``: quantitative estimate of drug-likeness (Bickerton 2012), 0 to 1, higher is more drug-like.
- ``sa_score``: synthetic accessibility (Ertl & Schuffenhauer 2009, RDKit Contrib ``SA_Score``), 1 (easy)
  to 10 (hard).
- Lipinski's rule of five: MW <= 500, cLogP <= 5, HBD <= 5, HBA <= 10 (with the ``hbd`` / ``hba`` above).
  ``lipinski_pass`` allows one violation, as Lipinski's rule does ("poor absorption is more likely when
  more than one rule is broken").
- ``pains_alerts`` / ``brenk_alerts``: names of the matched RDKit FilterCatalog entries (PAINS A, B and C;
  Brenk unwanted groups), e.g. ``ene_rhod_A(235)``.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import pickle
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from logos_tools.errors import InputError, MissingDependencyError
from logos_tools.grammar.molecule import mol_to_canonical, parse_smiles, rdkit_errors
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.tasks.common import to_clause

LIPINSKI_MAX_MW = 500.0
LIPINSKI_MAX_LOGP = 5.0
LIPINSKI_MAX_HBD = 5
LIPINSKI_MAX_HBA = 10


class MoleculeProperties(BaseModel):
    """Computed properties of one valid molecule."""

    model_config = ConfigDict(extra="forbid")

    valid: Literal[True] = True
    smiles: str = Field(description="The SMILES as given.")
    canonical_smiles: str = Field(description="RDKit canonical SMILES (the grammar profile's policy).")
    formula: str = Field(description="Molecular formula, e.g. C9H8O4.")
    mw: float = Field(description="Average molecular weight (g/mol).")
    logp: float = Field(description="Crippen cLogP.")
    tpsa: float = Field(description="Topological polar surface area (Å²).")
    hbd: int = Field(description="Hydrogen-bond donors (RDKit Lipinski.NumHDonors).")
    hba: int = Field(description="Hydrogen-bond acceptors (RDKit Lipinski.NumHAcceptors).")
    rotatable_bonds: int = Field(description="Rotatable bonds.")
    heavy_atoms: int = Field(description="Heavy (non-hydrogen) atoms.")
    rings: int = Field(description="Rings (SSSR).")
    aromatic_rings: int = Field(description="Aromatic rings.")
    formal_charge: int = Field(description="Net formal charge.")
    qed: float = Field(description="Drug-likeness QED, 0 to 1 (higher is more drug-like).")
    sa_score: float = Field(description="Synthetic accessibility, 1 (easy) to 10 (hard).")
    lipinski_violations: int = Field(description="Rule-of-five rules broken (0 to 4).")
    lipinski_pass: bool = Field(description="At most one rule-of-five violation.")
    pains_alerts: list[str] = Field(description="Matched PAINS (A, B, C) alerts; empty when clean.")
    brenk_alerts: list[str] = Field(description="Matched Brenk unwanted-group alerts; empty when clean.")


class InvalidMolecule(BaseModel):
    """A SMILES in a batch that could not be described, kept with the reason."""

    model_config = ConfigDict(extra="forbid")

    valid: Literal[False] = False
    smiles: str
    reason: str


class MoleculeFilter(BaseModel):
    """Property limits a molecule must meet; a limit left as None is not checked."""

    model_config = ConfigDict(extra="forbid")

    min_qed: float | None = Field(default=None, ge=0, le=1, description="Minimum QED (0 to 1), e.g. 0.5.")
    max_mw: float | None = Field(default=None, gt=0, description="Maximum molecular weight, e.g. 500.")
    max_logp: float | None = Field(default=None, description="Maximum Crippen cLogP, e.g. 5.")
    max_sa: float | None = Field(
        default=None, ge=1, le=10, description="Maximum SA score (1 easy to 10 hard), e.g. 4.5."
    )
    max_tpsa: float | None = Field(default=None, ge=0, description="Maximum TPSA in Å², e.g. 140.")
    max_hbd: int | None = Field(default=None, ge=0, description="Maximum hydrogen-bond donors.")
    max_hba: int | None = Field(default=None, ge=0, description="Maximum hydrogen-bond acceptors.")
    max_rotatable_bonds: int | None = Field(default=None, ge=0, description="Maximum rotatable bonds.")
    max_heavy_atoms: int | None = Field(default=None, ge=1, description="Maximum heavy atoms.")
    lipinski: bool = Field(default=False, description="Require the rule of five (at most one violation).")
    no_pains: bool = Field(default=False, description="Reject molecules with any PAINS alert.")
    no_brenk: bool = Field(default=False, description="Reject molecules with any Brenk alert.")
    neutral: bool = Field(default=False, description="Require a net formal charge of zero.")

    def is_empty(self) -> bool:
        """True when no limit is set (every valid molecule passes)."""
        return self == MoleculeFilter()

    def passes(self, props: MoleculeProperties) -> tuple[bool, list[str]]:
        """Whether ``props`` meets every limit, and one reason per limit it misses (e.g. ``QED 0.31 < 0.5``)."""
        reasons: list[str] = []
        if self.min_qed is not None and props.qed < self.min_qed:
            reasons.append(f"QED {props.qed:.2f} < {self.min_qed:g}")
        if self.max_mw is not None and props.mw > self.max_mw:
            reasons.append(f"MW {props.mw:.1f} > {self.max_mw:g}")
        if self.max_logp is not None and props.logp > self.max_logp:
            reasons.append(f"cLogP {props.logp:.2f} > {self.max_logp:g}")
        if self.max_sa is not None and props.sa_score > self.max_sa:
            reasons.append(f"SA score {props.sa_score:.2f} > {self.max_sa:g}")
        if self.max_tpsa is not None and props.tpsa > self.max_tpsa:
            reasons.append(f"TPSA {props.tpsa:.1f} > {self.max_tpsa:g}")
        if self.max_hbd is not None and props.hbd > self.max_hbd:
            reasons.append(f"HBD {props.hbd} > {self.max_hbd}")
        if self.max_hba is not None and props.hba > self.max_hba:
            reasons.append(f"HBA {props.hba} > {self.max_hba}")
        if self.max_rotatable_bonds is not None and props.rotatable_bonds > self.max_rotatable_bonds:
            reasons.append(f"rotatable bonds {props.rotatable_bonds} > {self.max_rotatable_bonds}")
        if self.max_heavy_atoms is not None and props.heavy_atoms > self.max_heavy_atoms:
            reasons.append(f"heavy atoms {props.heavy_atoms} > {self.max_heavy_atoms}")
        if self.lipinski and not props.lipinski_pass:
            reasons.append(f"Lipinski: {props.lipinski_violations} rule-of-five violations > 1")
        if self.no_pains and props.pains_alerts:
            reasons.append(f"PAINS alerts: {', '.join(props.pains_alerts)}")
        if self.no_brenk and props.brenk_alerts:
            reasons.append(f"Brenk alerts: {', '.join(props.brenk_alerts)}")
        if self.neutral and props.formal_charge != 0:
            reasons.append(f"formal charge {props.formal_charge:+d} != 0")
        return not reasons, reasons


@functools.cache
def _catalog(name: str) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog(params)


@functools.cache
def _sascorer() -> ModuleType:
    """RDKit's Contrib ``sascorer`` module, loaded from its file (Contrib is not a package on sys.path)."""
    folder = Path(RDConfig.RDContribDir) / "SA_Score"
    source = folder / "sascorer.py"
    scores_file = folder / "fpscores.pkl.gz"
    if not source.is_file() or not scores_file.is_file():
        raise MissingDependencyError(
            f"rdkit Contrib SA_Score (expected {source})", "chem", "The synthetic accessibility score"
        )
    spec = importlib.util.spec_from_file_location("logos_tools._rdkit_sascorer", source)
    if spec is None or spec.loader is None:
        raise MissingDependencyError(
            f"rdkit Contrib SA_Score ({source} cannot be loaded)", "chem", "The SA score"
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # sascorer's own reader leaves the gzip file open; read the fragment scores here, once.
    with gzip.open(scores_file, "rb") as handle:
        data = pickle.load(handle)  # RDKit's own shipped data file
    module._fscores = {key: float(row[0]) for row in data for key in row[1:]}  # type: ignore[attr-defined]
    return module


def _alerts(catalog: FilterCatalog, mol: Chem.Mol) -> list[str]:
    return sorted({str(entry.GetDescription()) for entry in catalog.GetMatches(mol)})


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def properties_of_mol(mol: Chem.Mol, smiles: str, profile: Profile | None = None) -> MoleculeProperties:
    """Properties of an already parsed and sanitized RDKit molecule.

    Raises:
        InputError: RDKit cannot compute a property of this molecule.
        MissingDependencyError: RDKit's Contrib SA_Score files are missing.
    """
    active = profile or load_profile()
    sascorer = _sascorer()
    try:
        with rdkit_errors():
            mw = rdMolDescriptors._CalcMolWt(mol)  # what Descriptors.MolWt returns
            logp = rdMolDescriptors.CalcCrippenDescriptors(mol)[0]  # Crippen.MolLogP
            hbd = rdMolDescriptors.CalcNumHBD(mol)  # Lipinski.NumHDonors
            hba = rdMolDescriptors.CalcNumHBA(mol)  # Lipinski.NumHAcceptors
            violations = sum(
                (
                    mw > LIPINSKI_MAX_MW,
                    logp > LIPINSKI_MAX_LOGP,
                    hbd > LIPINSKI_MAX_HBD,
                    hba > LIPINSKI_MAX_HBA,
                )
            )
            return MoleculeProperties(
                smiles=smiles,
                canonical_smiles=mol_to_canonical(mol, active),
                formula=rdMolDescriptors.CalcMolFormula(mol),
                mw=_round(mw, 3),
                logp=_round(logp, 3),
                tpsa=_round(rdMolDescriptors.CalcTPSA(mol), 2),
                hbd=hbd,
                hba=hba,
                rotatable_bonds=rdMolDescriptors.CalcNumRotatableBonds(mol),
                heavy_atoms=mol.GetNumHeavyAtoms(),
                rings=rdMolDescriptors.CalcNumRings(mol),
                aromatic_rings=rdMolDescriptors.CalcNumAromaticRings(mol),
                formal_charge=Chem.GetFormalCharge(mol),
                qed=_round(QED.qed(mol), 4),  # type: ignore[no-untyped-call]
                sa_score=_round(sascorer.calculateScore(mol), 3),
                lipinski_violations=violations,
                lipinski_pass=violations <= 1,
                pains_alerts=_alerts(_catalog("PAINS"), mol),
                brenk_alerts=_alerts(_catalog("BRENK"), mol),
            )
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        raise InputError(
            f"RDKit cannot compute the properties of {smiles!r}: {to_clause(str(exc))}. Check the molecule "
            "(unusual valences or elements), or leave it out."
        ) from None


def describe_molecule(smiles: str, profile: Profile | None = None) -> MoleculeProperties:
    """Parse one SMILES and compute its properties.

    Raises:
        EncodeError: the SMILES is invalid (the message says why).
        InputError: RDKit cannot compute a property of the molecule.
        MissingDependencyError: RDKit's Contrib SA_Score files are missing.
    """
    active = profile or load_profile()
    return properties_of_mol(parse_smiles(smiles, profile=active), smiles.strip(), active)


def describe_molecules(
    smiles: Iterable[str], profile: Profile | None = None
) -> list[MoleculeProperties | InvalidMolecule]:
    """Describe many SMILES, one entry per input in order; an invalid one becomes an ``InvalidMolecule``.

    Repeated SMILES are computed once (generated batches often repeat molecules).

    Raises:
        MissingDependencyError: RDKit's Contrib SA_Score files are missing.
    """
    active = profile or load_profile()
    cache: dict[str, MoleculeProperties | InvalidMolecule] = {}
    described: list[MoleculeProperties | InvalidMolecule] = []
    for item in smiles:
        if item not in cache:
            try:
                cache[item] = describe_molecule(item, active)
            except InputError as exc:  # EncodeError included: bad samples are data here
                cache[item] = InvalidMolecule(smiles=str(item), reason=str(exc))
            described.append(cache[item])
        else:
            described.append(cache[item].model_copy(deep=True))  # callers may edit entries
    return described


def uniqueness_and_novelty(
    canonical_smiles: Sequence[str], reference: Collection[str]
) -> tuple[float, float]:
    """Fraction of distinct molecules, and fraction of the distinct ones absent from ``reference``.

    Both arguments must use the same canonical form (e.g. ``MoleculeProperties.canonical_smiles``);
    novelty follows MOSES: it is measured over the unique molecules. An empty input gives ``(0.0, 0.0)``.
    """
    if not canonical_smiles:
        return 0.0, 0.0
    unique = set(canonical_smiles)
    novel = sum(1 for smiles in unique if smiles not in reference)
    return len(unique) / len(canonical_smiles), novel / len(unique)


def check_filter(value: MoleculeFilter | dict[str, Any] | None) -> MoleculeFilter:
    """A ``MoleculeFilter`` from a filter, a plain dict of limits (as agents send them), or None.

    Raises:
        InputError: the dict holds an unknown key or a limit out of range; the message lists the keys.
    """
    if value is None:
        return MoleculeFilter()
    if isinstance(value, MoleculeFilter):
        return value
    try:
        return MoleculeFilter.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'filter'}: {err['msg']}" for err in exc.errors()
        )
        keys = ", ".join(MoleculeFilter.model_fields)
        raise InputError(
            f"Molecule filter {value!r} is invalid ({problems}). Use only these keys: {keys}; "
            "e.g. {'min_qed': 0.5, 'max_mw': 500}."
        ) from None


__all__ = [
    "InvalidMolecule",
    "MoleculeFilter",
    "MoleculeProperties",
    "check_filter",
    "describe_molecule",
    "describe_molecules",
    "properties_of_mol",
    "uniqueness_and_novelty",
]
