"""Pocket residues of a protein-ligand complex file, mapped back to chain sequence and residue numbers.

A residue is in the pocket when any of its heavy atoms lies within the cutoff of any heavy atom of the
chosen ligand (``unpublished.pocket_cutoff_angstrom`` by default, 6 Å in logos-v1). Hydrogens and
deuteriums never count. Chain sequences follow the policies of ``structure``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from logos_tools.errors import InputError
from logos_tools.grammar.pocket import encode_pocket_protein
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.structure import BIO_PDB, HYDROGENS, HetResidue, Structure, load_structure


@dataclass(frozen=True)
class ComplexPocket:
    """Pocket residues of one protein chain around one ligand of a complex structure.

    ``positions`` are sorted 0-based indices into ``sequence``; ``residue_numbers`` are the author
    numbers of the same residues ("25", "25A"), in the same order.
    """

    chain: str
    sequence: str
    positions: tuple[int, ...]
    residue_numbers: tuple[str, ...]
    ligand_name: str
    ligand_chain: str
    ligand_resnum: int
    cutoff: float
    contacts_by_chain: dict[str, int]  # pocket residue count of every protein chain near the ligand

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            **asdict(self),
            "positions": list(self.positions),
            "residue_numbers": list(self.residue_numbers),
        }

    def marked(self, profile: Profile) -> str:
        """The pocket-marked protein block of this chain.

        Raises:
            EncodeError: the chain sequence is longer than the protein length limit.
        """
        return encode_pocket_protein(self.sequence, self.positions, profile)


def pocket_from_complex(
    path: str | Path,
    *,
    ligand: str,
    chain: str | None = None,
    ligand_chain: str | None = None,
    ligand_resnum: int | None = None,
    cutoff: float | None = None,
    profile: Profile,
) -> ComplexPocket:
    """Pocket residues of a protein chain: those with a heavy atom within ``cutoff`` Å of a ligand heavy atom.

    The ligand is the HETATM residue named ``ligand`` (narrowed by ``ligand_chain`` / ``ligand_resnum``);
    ``cutoff`` defaults to the profile's ``unpublished.pocket_cutoff_angstrom``; ``chain`` defaults to the
    protein chain with the most pocket residues (the first in file order on a tie).

    Raises:
        InputError: file problems (see ``read_structure``); no ligand of that name (the message lists the
            ligands present); several match (the message lists them with chain and number); a bad cutoff;
            an unknown chain; or no residue of the chain within the cutoff.
    """
    loaded = load_structure(path)
    summary = loaded.summary
    chosen = _choose_ligand(summary, ligand, ligand_chain, ligand_resnum)
    distance = profile.unpublished.pocket_cutoff_angstrom if cutoff is None else float(cutoff)
    if not 0 < distance <= 20:
        raise InputError(f"Pocket cutoff {cutoff!r} Å is outside (0, 20]. Pass a distance such as 6.0.")
    if chain is not None:
        summary.chain(chain)
    protein_atoms = [
        atom
        for residue in loaded.model.get_residues()
        if id(residue) in loaded.index
        for atom in residue
        if atom.element.upper() not in HYDROGENS
    ]
    search = BIO_PDB.NeighborSearch(protein_atoms)
    contacts: dict[str, set[int]] = {}
    for atom in loaded.ligand_residues[chosen]:
        if atom.element.upper() in HYDROGENS:
            continue
        for near in search.search(atom.coord, distance, level="A"):
            chain_id, position = loaded.index[id(near.get_parent())]
            contacts.setdefault(chain_id, set()).add(position)
    counts = {cid: len(contacts[cid]) for cid in summary.chains if cid in contacts}
    if chain is None:
        if not counts:
            raise InputError(
                f"No protein residue has a heavy atom within {distance} Å of ligand {chosen.label} in "
                f"{summary.path}. Pass a larger cutoff or another ligand."
            )
        chain = max(counts, key=lambda cid: counts[cid])  # max keeps the first chain on a tie
    positions = tuple(sorted(contacts.get(chain, ())))
    if not positions:
        raise InputError(
            f"Chain {chain} has no residue within {distance} Å of ligand {chosen.label} in {summary.path} "
            f"(pocket residues per chain: {counts or 'none'}). Pass another chain or a larger cutoff."
        )
    sequence = summary.chains[chain]
    return ComplexPocket(
        chain=chain,
        sequence=sequence.sequence,
        positions=positions,
        residue_numbers=tuple(sequence.residue_numbers[i] for i in positions),
        ligand_name=chosen.name,
        ligand_chain=chosen.chain,
        ligand_resnum=chosen.resnum,
        cutoff=distance,
        contacts_by_chain=counts,
    )


def _choose_ligand(summary: Structure, name: str, chain: str | None, resnum: int | None) -> HetResidue:
    wanted = name.strip().upper()
    named = [ligand for ligand in summary.ligands if ligand.name.upper() == wanted]
    if not named:
        present = sorted({ligand.name for ligand in summary.ligands})
        raise InputError(
            f"{summary.path} has no ligand named {name!r}. HETATM residues present (waters excluded): "
            f"{', '.join(present) or 'none'}. Pass one of those names."
        )
    matching = [
        ligand
        for ligand in named
        if (chain is None or ligand.chain == chain) and (resnum is None or ligand.resnum == resnum)
    ]
    if len(matching) == 1:
        return matching[0]
    candidates = ", ".join(ligand.label for ligand in named)
    if not matching:
        filters = " and ".join(
            part
            for part in (
                f"chain {chain!r}" if chain is not None else "",
                f"number {resnum}" if resnum is not None else "",
            )
            if part
        )
        raise InputError(
            f"{summary.path} has no ligand {wanted} with {filters}. "
            f"Candidates: {candidates}. Pass one of their chains / numbers."
        )
    raise InputError(
        f"Ligand name {wanted!r} is ambiguous in {summary.path}: {len(matching)} matches "
        f"({', '.join(ligand.label for ligand in matching)}). Pass ligand_chain and/or ligand_resnum."
    )
