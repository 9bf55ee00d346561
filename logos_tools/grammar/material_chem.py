"""Chemistry helpers for MOF building blocks: lenient parsing, element sets, charges and 3D coordinates.

Metal-node SMILES written from bonded structures (``[Zn][O]([Zn])([Zn])[Zn]``) routinely break RDKit's
valence rules, so nodes and linkers are parsed on a ladder and the rung reached is recorded:

- ``full``: ``MolFromSmiles`` with complete sanitization;
- ``no_valence``: every sanitization step except the valence check (``SANITIZE_PROPERTIES``), with
  implicit hydrogens computed leniently;
- ``minimal``: ring perception only (kekulization or aromaticity failed as well).

A SMILES RDKit cannot even read (syntax) fails on every rung.

Charge-balance heuristic (an estimate, reported as such):

- A block with any formal charge written is taken at its written charge (ionic form).
- Otherwise (bonded form) a node counts each metal at its lowest common positive oxidation state
  (pymatgen's ``common_oxidation_states``), and each O/S/Se/N/P/halogen atom bonded to a metal at
  minus its free valence: typical valence - bond orders to non-metals - hydrogens (oxo -2, hydroxo -1,
  aqua 0, carboxylate O -1, halide -1).
- A bonded-form linker counts -1 per group that deprotonates on coordination: carboxylic acid, S/P acid
  O-H, azole N-H (5-ring with two or more N), and any neutral one-bonded O/S left with a free valence
  (the bond to the metal that was cut).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pymatgen.core.composition import Composition
from pymatgen.core.periodic_table import Element
from pymatgen.core.structure import Molecule
from rdkit import Chem
from rdkit.Chem import rdDistGeom

from logos_tools.errors import EncodeError
from logos_tools.grammar.molecule import rdkit_errors, rdkit_reason

EMBED_SEED = 0xF00D
EMBED_TIMEOUT_S = 10
MAX_EMBED_ATOMS = 400  # with hydrogens; larger blocks are not embedded (time), the reason is recorded
MAX_RATIO = 12
FRAGMENT_GAP_A = 3.0  # space between the bounding boxes of disconnected fragments
FRAGMENT_NOTE = (
    "disconnected fragments (ions of a node, for example) are embedded one by one and set "
    f"{FRAGMENT_GAP_A:g} Å apart along x; their relative placement is not chemistry"
)
_TYPICAL_VALENCE = {"O": 2, "S": 2, "Se": 2, "N": 3, "P": 3, "F": 1, "Cl": 1, "Br": 1, "I": 1}
_ACID_OH = Chem.MolFromSmarts("[$([CX3]=O),$([SX4](=O)=O),$([PX4]=O)][OX2H1]")
_OPEN_CHALCOGEN = Chem.MolFromSmarts("[O,S;X1;H0;+0;!$(*=*)]")


@dataclass(frozen=True)
class ParsedBlock:
    """A building-block SMILES parsed on the sanitization ladder."""

    mol: Chem.Mol
    sanitize: str  # "full", "no_valence" or "minimal"
    problem: str | None  # why full sanitization failed, if it did


@dataclass(frozen=True)
class Geometry:
    """3D coordinates of one block (RDKit ETKDG, fixed seed) as a pymatgen Molecule, or why not."""

    molecule: Molecule | None
    reason: str | None
    fragments: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: the XYZ text when embedded."""
        if self.molecule is None:
            return {"embedded": False, "reason": self.reason}
        data: dict[str, Any] = {
            "embedded": True,
            "sites": len(self.molecule),
            "fragments": self.fragments,
            "xyz": self.molecule.to(fmt="xyz"),
        }
        if self.fragments > 1:
            data["note"] = FRAGMENT_NOTE
        return data


def is_metal(symbol: str) -> bool:
    """True for metals by pymatgen's definition (alkali to post-transition, lanthanoids, actinoids)."""
    try:
        return bool(Element(symbol).is_metal)
    except ValueError:
        return False


def parse_lenient(smiles: str, what: str) -> ParsedBlock:
    """Parse ``smiles`` on the sanitization ladder (see the module docstring).

    Raises:
        EncodeError: RDKit cannot read the SMILES at all, or it has no atoms.
    """
    with rdkit_errors() as lines:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None or mol.GetNumAtoms() == 0:
        reason = rdkit_reason(lines) if mol is None else "no atoms"
        raise EncodeError(f"{what} {smiles!r} is invalid: {reason}. Pass a valid SMILES.")
    try:
        with rdkit_errors():
            full = Chem.Mol(mol)
            Chem.SanitizeMol(full)
            full = Chem.RemoveHs(full)
        return ParsedBlock(mol=full, sanitize="full", problem=None)
    except Chem.rdchem.MolSanitizeException as exc:
        problem = " ".join(str(exc).split())
    with rdkit_errors():
        mol.UpdatePropertyCache(strict=False)
        # Skip the valence check, and keep bonds to metals as written (no conversion to dative bonds).
        flags = Chem.SanitizeFlags(
            int(Chem.SanitizeFlags.SANITIZE_ALL)
            & ~int(Chem.SanitizeFlags.SANITIZE_PROPERTIES)
            & ~int(Chem.SanitizeFlags.SANITIZE_CLEANUP_ORGANOMETALLICS)
        )
        partial = Chem.Mol(mol)
        failed = Chem.SanitizeMol(partial, flags, catchErrors=True)
        if failed == Chem.SanitizeFlags.SANITIZE_NONE:
            return ParsedBlock(mol=partial, sanitize="no_valence", problem=problem)
        Chem.FastFindRings(mol)
    return ParsedBlock(mol=mol, sanitize="minimal", problem=problem)


def metals_of(mol: Chem.Mol) -> list[str]:
    """Symbols of the metal atoms, in atom order."""
    return [a.GetSymbol() for a in mol.GetAtoms() if is_metal(a.GetSymbol())]


def composition_of(mol: Chem.Mol) -> Composition:
    """Element counts including implicit hydrogens; dummy atoms (``*``) are left out."""
    counts: dict[str, float] = {}
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            continue
        counts[atom.GetSymbol()] = counts.get(atom.GetSymbol(), 0) + 1
        hydrogens = atom.GetTotalNumHs()
        if hydrogens:
            counts["H"] = counts.get("H", 0) + hydrogens
    return Composition(counts)


def node_valence_problem(mol: Chem.Mol) -> str | None:
    """Valence check of a node's non-metal atoms once their bonds to metals are cut (None when fine)."""
    work = Chem.RWMol(mol)
    for index in sorted((a.GetIdx() for a in work.GetAtoms() if is_metal(a.GetSymbol())), reverse=True):
        work.RemoveAtom(index)
    if work.GetNumAtoms() == 0:
        return None
    try:
        with rdkit_errors():
            Chem.SanitizeMol(work)
    except Chem.rdchem.MolSanitizeException as exc:
        return " ".join(str(exc).split())
    return None


def _oxidation_state(symbol: str) -> int:
    element = Element(symbol)
    positive = [s for s in element.common_oxidation_states if s > 0] or [
        s for s in element.oxidation_states if s > 0
    ]
    return min(positive) if positive else 0


def _written_charge(mol: Chem.Mol) -> int | None:
    charges = [a.GetFormalCharge() for a in mol.GetAtoms()]
    return sum(charges) if any(charges) else None


def node_charge(mol: Chem.Mol) -> tuple[int, str]:
    """Estimated charge of a metal node and the method used (``formal`` or ``oxidation_states``)."""
    written = _written_charge(mol)
    if written is not None:
        return written, "formal"
    total = 0
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol()
        if is_metal(symbol):
            total += _oxidation_state(symbol)
            continue
        typical = _TYPICAL_VALENCE.get(symbol)
        bonds = atom.GetBonds()
        if typical is None or not any(is_metal(b.GetOtherAtom(atom).GetSymbol()) for b in bonds):
            continue
        to_nonmetals = sum(
            b.GetBondTypeAsDouble() for b in bonds if not is_metal(b.GetOtherAtom(atom).GetSymbol())
        )
        total -= max(0, typical - round(to_nonmetals) - atom.GetTotalNumHs())
    return total, "oxidation_states"


def linker_charge(mol: Chem.Mol) -> tuple[int, str]:
    """Estimated charge of a coordinated linker and the method used (``formal`` or ``acid_groups``)."""
    written = _written_charge(mol)
    if written is not None:
        return written, "formal"
    sites = len(mol.GetSubstructMatches(_ACID_OH)) + len(mol.GetSubstructMatches(_OPEN_CHALCOGEN))
    rings = mol.GetRingInfo().AtomRings()
    for atom in mol.GetAtoms():
        if atom.GetSymbol() == "N" and atom.GetIsAromatic() and atom.GetTotalNumHs() == 1:
            ring = next((r for r in rings if len(r) == 5 and atom.GetIdx() in r), None)
            if ring and sum(mol.GetAtomWithIdx(i).GetSymbol() == "N" for i in ring) >= 2:
                sites += 1
    return -sites, "acid_groups"


def balance_ratio(node: int, linkers: int) -> tuple[int, int] | None:
    """Smallest (nodes, linker sets) with zero net charge, each at most ``MAX_RATIO``; None if none."""
    if node == 0 and linkers == 0:
        return (1, 1)
    if node <= 0 or linkers >= 0:
        return None
    common = math.gcd(node, -linkers)
    nodes, sets = -linkers // common, node // common
    return (nodes, sets) if nodes <= MAX_RATIO and sets <= MAX_RATIO else None


def embed(mol: Chem.Mol) -> Geometry:
    """3D coordinates from RDKit ETKDGv3 (fixed seed; random-coordinate start as fallback)."""
    if any(a.GetAtomicNum() == 0 for a in mol.GetAtoms()):
        return Geometry(molecule=None, reason="dummy atoms (*) have no element to place")
    try:
        with rdkit_errors():
            work = Chem.Mol(mol)
            # Embedding checks valences: metal bonds become dative bonds here (atoms and coordinates
            # are unchanged), which is what lets bonded-form nodes such as Zn4O embed.
            work.UpdatePropertyCache(strict=False)
            Chem.SanitizeMol(work, Chem.SanitizeFlags.SANITIZE_CLEANUP_ORGANOMETALLICS, catchErrors=True)
            work.UpdatePropertyCache(strict=False)
            withh = Chem.AddHs(work)
            if withh.GetNumAtoms() > MAX_EMBED_ATOMS:
                return Geometry(molecule=None, reason=f"more than {MAX_EMBED_ATOMS} atoms: not embedded")
            params = rdDistGeom.ETKDGv3()
            # setattr: RDKit's type stubs mistype these EmbedParameters attributes.
            setattr(params, "randomSeed", EMBED_SEED)  # noqa: B010
            setattr(params, "timeout", EMBED_TIMEOUT_S)  # noqa: B010
            conf_id = rdDistGeom.EmbedMolecule(withh, params)
            if conf_id < 0:
                setattr(params, "useRandomCoords", True)  # noqa: B010
                conf_id = rdDistGeom.EmbedMolecule(withh, params)
    except (RuntimeError, ValueError) as exc:
        return Geometry(molecule=None, reason=f"RDKit embedding failed: {exc}")
    if conf_id < 0:
        return Geometry(molecule=None, reason="RDKit ETKDG found no 3D embedding (seeded and random starts)")
    fragments = Chem.GetMolFrags(withh)
    positions = _set_apart(withh.GetConformer(conf_id).GetPositions(), fragments)
    species = [a.GetSymbol() for a in withh.GetAtoms()]
    charge = sum(a.GetFormalCharge() for a in withh.GetAtoms())
    return Geometry(
        molecule=Molecule(species, positions.tolist(), charge=charge), reason=None, fragments=len(fragments)
    )


def _set_apart(
    positions: npt.NDArray[np.float64], fragments: tuple[tuple[int, ...], ...]
) -> npt.NDArray[np.float64]:
    """Move each fragment next to the previous one along x.

    ETKDG embeds disconnected fragments independently around the origin, so single ions land on top
    of each other; overlapping atoms would be wrong geometry for any downstream code.
    """
    if len(fragments) < 2:
        return positions
    placed: npt.NDArray[np.float64] = positions.copy()
    next_left = 0.0
    for atoms in fragments:
        index = list(atoms)
        block = positions[index]
        shift = np.array([next_left - block[:, 0].min(), -block[:, 1].mean(), -block[:, 2].mean()])
        placed[index] = block + shift
        next_left += float(np.ptp(block[:, 0])) + FRAGMENT_GAP_A
    return placed
