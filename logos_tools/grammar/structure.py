"""Protein structures (PDB, mmCIF) -> chain sequences with residue numbers, and pockets around a ligand.

Policies (stated once, applied everywhere):

- Only the first model is read (NMR ensembles give their first conformer). Alternate locations are
  resolved by Biopython (the first/highest-occupancy one).
- A chain's sequence holds its amino-acid residues in file order: standard residues (ATOM records) and
  modified residues written as HETATM (MSE, CSO, SEP, ...) that Biopython's
  ``protein_letters_3to1_extended`` maps to their parent letter (MSE -> M, CSO -> C), provided they
  carry N, CA and C and are peptide-bonded to a neighbouring residue (a free amino acid is a ligand).
- Polymer residues with no letter (UNK, nucleotides) are left out and listed in ``skipped``; waters are
  ignored; every other HETATM residue is a ligand.
- Gaps are not filled: the sequence concatenates the observed residues and each chain break is recorded
  in ``breaks`` (C(i)-N(i+1) farther than 2.0 Å, or, when those atoms are missing, a residue-number jump).
- Residue numbers are author numbers with insertion code, as strings: "25", "100A".
- A chain with no amino-acid residue (DNA, a chain of waters or ligands) is not a protein chain.

Paths are plain paths here; confining them to allowed folders is the toolkit's job. Pockets around a
ligand are found in ``complex_pocket``.
"""

from __future__ import annotations

import gzip
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import Bio.PDB
from Bio.Data.PDBData import protein_letters_3to1_extended
from Bio.PDB.PDBExceptions import PDBConstructionException

from logos_tools.errors import InputError

WATER_NAMES = frozenset({"HOH", "DOD", "WAT", "H2O", "D2O", "DIS"})
HYDROGENS = frozenset({"H", "D"})
PEPTIDE_BOND_MAX_ANGSTROM = 2.0
StructureFormat = Literal["pdb", "mmcif"]
# Biopython's type hints are partial (mypy --strict rejects most calls), so its objects are Any here.
BIO_PDB: Any = Bio.PDB
Model = Any  # Bio.PDB.Model.Model
Residue = Any  # Bio.PDB.Residue.Residue


@dataclass(frozen=True)
class ChainBreak:
    """A gap in a chain between sequence index ``after_index`` and the next residue."""

    after_index: int
    before: str  # residue number before the gap
    after: str  # residue number after the gap
    reason: Literal["distance", "numbering"]


@dataclass(frozen=True)
class ModifiedResidue:
    """A modified residue written with its parent's letter."""

    index: int
    residue_number: str
    name: str
    letter: str


@dataclass(frozen=True)
class ChainSequence:
    """One protein chain: its one-letter sequence and each letter's author residue number."""

    chain: str
    sequence: str
    residue_numbers: tuple[str, ...]
    breaks: tuple[ChainBreak, ...]
    modified: tuple[ModifiedResidue, ...]
    skipped: tuple[str, ...]  # "UNK 42": polymer residues left out of the sequence

    def index_of(self, residue_number: str | int) -> int:
        """The 0-based sequence index of an author residue number ("25", "25A" or 25).

        Raises:
            InputError: the chain has no residue with that number.
        """
        wanted = str(residue_number).strip()
        try:
            return self.residue_numbers.index(wanted)
        except ValueError:
            raise InputError(
                f"Chain {self.chain} has no amino-acid residue numbered {wanted!r} (it holds "
                f"{self.residue_numbers[0]}..{self.residue_numbers[-1]}). Pass a residue number of the chain."
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class HetResidue:
    """A ligand, ion or other non-polymer residue (waters excluded)."""

    name: str
    chain: str
    resnum: int
    icode: str
    heavy_atoms: int

    @property
    def label(self) -> str:
        """``NAME CHAIN NUMBER`` as people write it, e.g. ``XK2 A 263``."""
        return f"{self.name} {self.chain} {self.resnum}{self.icode}"


@dataclass(frozen=True)
class Structure:
    """What logos-tools reads from a structure file: protein chains and ligands of the first model."""

    path: Path
    format: StructureFormat
    chains: dict[str, ChainSequence]
    ligands: tuple[HetResidue, ...]

    def chain(self, chain_id: str) -> ChainSequence:
        """The protein chain ``chain_id``.

        Raises:
            InputError: no protein chain has that id (the message lists the protein chains).
        """
        try:
            return self.chains[chain_id]
        except KeyError:
            raise InputError(
                f"{self.path} has no protein chain {chain_id!r}. Protein chains: {', '.join(self.chains)}."
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "path": str(self.path),
            "format": self.format,
            "chains": {cid: chain.to_dict() for cid, chain in self.chains.items()},
            "ligands": [{**asdict(ligand), "label": ligand.label} for ligand in self.ligands],
        }


@dataclass(frozen=True)
class LoadedStructure:
    """A parsed structure: our summary, the Biopython first model, and residue -> (chain, index)."""

    summary: Structure
    model: Model
    index: dict[int, tuple[str, int]]  # id(Bio residue) -> (chain id, sequence index)
    ligand_residues: dict[HetResidue, Residue]


def read_structure(path: str | Path) -> Structure:
    """Read a PDB or mmCIF file (optionally gzipped) into chain sequences and ligands.

    Raises:
        InputError: the file is missing, unreadable, not a PDB/mmCIF structure, or holds no protein chain.
    """
    return load_structure(path).summary


def load_structure(path: str | Path) -> LoadedStructure:
    """``read_structure`` plus the Biopython model, for callers that need atoms (pocket search).

    Raises:
        InputError: as ``read_structure``.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(
            f"Structure file {str(file)!r} does not exist or is not a file. Pass a .pdb or .cif file."
        )
    kind = _format_of(file)
    model = _first_model(file, kind)
    chains: dict[str, ChainSequence] = {}
    index: dict[int, tuple[str, int]] = {}
    ligands: dict[HetResidue, Residue] = {}
    for bio_chain in model:
        residues, het = _split_chain(list(bio_chain))
        for residue in het:
            ligand = _het_residue(bio_chain.id, residue)
            ligands[ligand] = residue
        chain = _chain_sequence(bio_chain.id, residues)
        if chain is None:
            continue
        chains[chain.chain] = chain
        lettered = [residue for residue, letter in residues if letter is not None]
        index.update({id(residue): (chain.chain, k) for k, residue in enumerate(lettered)})
    if not chains:
        raise InputError(
            f"Structure file {str(file)!r} holds no protein chain (no amino-acid residue in its first "
            "model). Pass a protein structure."
        )
    summary = Structure(path=file, format=kind, chains=chains, ligands=tuple(ligands))
    return LoadedStructure(summary=summary, model=model, index=index, ligand_residues=ligands)


def _format_of(file: Path) -> StructureFormat:
    suffixes = [s.lower() for s in file.suffixes[-2:] if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in (".cif", ".mmcif"):
        return "mmcif"
    if suffixes and suffixes[-1] in (".pdb", ".ent"):
        return "pdb"
    try:  # unknown extension: mmCIF files start with a data_ block
        with _open(file) as handle:
            head = handle.read(4096).lstrip()
    except (OSError, UnicodeDecodeError, EOFError):
        return "pdb"  # not text: the PDB parser reports it as unreadable
    return "mmcif" if head.startswith("data_") else "pdb"


def _open(file: Path) -> Any:
    if file.suffix.lower() == ".gz":
        return gzip.open(file, "rt", encoding="utf-8")
    return open(file, encoding="utf-8")


def _first_model(file: Path, kind: StructureFormat) -> Model:
    parser = BIO_PDB.MMCIFParser(QUIET=True) if kind == "mmcif" else BIO_PDB.PDBParser(QUIET=True)
    what = "mmCIF" if kind == "mmcif" else "PDB"
    try:
        # QUIET silences construction warnings; any other Biopython warning is ignored here (the
        # checks below say what is wrong with a file). Not record=True: recording warnings leaves
        # CPython's shutdown-time filter state behind, and every later process exit then prints
        # llama-cpp-python's unclosed /dev/null handles as ResourceWarnings.
        with warnings.catch_warnings(), _open(file) as handle:
            warnings.simplefilter("ignore")
            structure = parser.get_structure(file.stem, handle)
    except (ValueError, KeyError, IndexError, EOFError, OSError, PDBConstructionException) as exc:
        raise InputError(
            f"Structure file {str(file)!r} is not a readable {what} file ({type(exc).__name__}: {exc}). "
            "Pass a PDB (.pdb) or mmCIF (.cif) structure."
        ) from None
    models = list(structure)
    if not models:
        raise InputError(
            f"Structure file {str(file)!r} holds no atoms readable as {what}. "
            "Pass a PDB (.pdb) or mmCIF (.cif) structure."
        )
    return models[0]


def _letter(residue: Residue) -> str | None:
    letter = protein_letters_3to1_extended.get(residue.get_resname().strip().upper())
    return letter if isinstance(letter, str) and len(letter) == 1 else None


def _peptide_bonded(first: Residue, second: Residue) -> bool | None:
    """True/False from the C-N distance, None when an atom is missing."""
    if "C" not in first or "N" not in second:
        return None
    return bool(first["C"] - second["N"] <= PEPTIDE_BOND_MAX_ANGSTROM)


def _split_chain(residues: list[Residue]) -> tuple[list[tuple[Residue, str | None]], list[Residue]]:
    """Polymer residues (with letter, or None when skipped) and het residues of one chain, in order."""
    candidates: list[tuple[Residue, str | None]] = []
    het: list[Residue] = []
    order = {id(residue): k for k, residue in enumerate(residues)}
    for residue in residues:
        flag, name = residue.id[0], residue.get_resname().strip().upper()
        if flag == "W" or name in WATER_NAMES:
            continue
        letter = _letter(residue)
        if flag == " " or (letter is not None and all(atom in residue for atom in ("N", "CA", "C"))):
            candidates.append((residue, letter))
        else:
            het.append(residue)
    polymer: list[tuple[Residue, str | None]] = []
    for k, (residue, letter) in enumerate(candidates):
        if residue.id[0] != " ":
            before = candidates[k - 1][0] if k > 0 else None
            after = candidates[k + 1][0] if k + 1 < len(candidates) else None
            linked = (before is not None and _peptide_bonded(before, residue)) or (
                after is not None and _peptide_bonded(residue, after)
            )
            if not linked:
                het.append(residue)  # a free amino acid bound as a ligand, not part of the chain
                continue
        polymer.append((residue, letter))
    return polymer, sorted(het, key=lambda residue: order[id(residue)])


def residue_number(residue: Residue) -> str:
    """Author residue number with insertion code, e.g. ``25`` or ``100A``."""
    _, number, icode = residue.id
    return f"{number}{icode.strip()}"


def _chain_sequence(chain_id: str, residues: list[tuple[Residue, str | None]]) -> ChainSequence | None:
    kept = [(residue, letter) for residue, letter in residues if letter is not None]
    if not kept:
        return None
    skipped = tuple(
        f"{residue.get_resname().strip()} {residue_number(residue)}"
        for residue, letter in residues
        if letter is None
    )
    breaks: list[ChainBreak] = []
    modified: list[ModifiedResidue] = []
    for position, (residue, letter) in enumerate(kept):
        if residue.get_resname().strip().upper() not in _STANDARD:
            modified.append(
                ModifiedResidue(position, residue_number(residue), residue.get_resname().strip(), letter)
            )
        if position + 1 == len(kept):
            break
        following = kept[position + 1][0]
        bonded = _peptide_bonded(residue, following)
        reason: Literal["distance", "numbering"] | None = None
        if bonded is False:
            reason = "distance"
        elif bonded is None and _numbering_jumps(residue, following):
            reason = "numbering"
        if reason is not None:
            breaks.append(ChainBreak(position, residue_number(residue), residue_number(following), reason))
    return ChainSequence(
        chain=chain_id,
        sequence="".join(letter for _, letter in kept),
        residue_numbers=tuple(residue_number(residue) for residue, _ in kept),
        breaks=tuple(breaks),
        modified=tuple(modified),
        skipped=skipped,
    )


def _numbering_jumps(first: Residue, second: Residue) -> bool:
    (_, a, _), (_, b, icode_b) = first.id, second.id
    return not (b == a + 1 or (b == a and icode_b.strip()))


def _het_residue(chain_id: str, residue: Residue) -> HetResidue:
    _, number, icode = residue.id
    heavy = sum(1 for atom in residue.get_atoms() if atom.element.upper() not in HYDROGENS)
    return HetResidue(residue.get_resname().strip(), chain_id, int(number), icode.strip(), heavy)


_STANDARD = frozenset(
    {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE"}
    | {"LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"}
)
