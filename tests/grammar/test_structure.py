from collections.abc import Callable
from pathlib import Path

import pytest

from logos_tools.errors import InputError
from logos_tools.grammar.structure import ChainBreak, ModifiedResidue, read_structure
from logos_tools.shipped import grammar_dir

STRUCTURES = grammar_dir() / "fixtures" / "structures"


def _edited_copy(tmp_path: Path, source: str, drop: Callable[[str], bool], name: str | None = None) -> Path:
    """A copy of a shipped PDB file without the lines ``drop`` selects (a real file, edited)."""
    lines = (STRUCTURES / source).read_text(encoding="utf-8").splitlines(keepends=True)
    target = tmp_path / (name or source)
    target.write_text("".join(line for line in lines if not drop(line)), encoding="utf-8")
    return target


def _residue(chain: str, numbers: range) -> Callable[[str], bool]:
    return lambda line: (
        line.startswith(("ATOM", "HETATM")) and line[21] == chain and int(line[22:26]) in numbers
    )


def test_pdb_chains_become_sequences_with_author_numbers() -> None:
    structure = read_structure(STRUCTURES / "1hvr.pdb")
    assert structure.format == "pdb"
    assert list(structure.chains) == ["A", "B"]
    chain = structure.chain("A")
    assert len(chain.sequence) == 99
    assert chain.sequence.startswith("PQVTLWQRPLVTIKIGGQLKEALLDTGADD")
    assert chain.residue_numbers[:3] == ("1", "2", "3")
    assert chain.sequence[chain.index_of("25")] == "D"
    assert chain.index_of(25) == 24
    assert chain.breaks == ()


def test_modified_residue_takes_its_parent_letter_and_is_listed() -> None:
    chain = read_structure(STRUCTURES / "1hvr.pdb").chain("B")
    assert chain.modified == (ModifiedResidue(index=66, residue_number="67", name="CSO", letter="C"),)
    assert chain.sequence[66] == "C"


def test_ligands_exclude_waters_and_modified_residues() -> None:
    assert [ligand.label for ligand in read_structure(STRUCTURES / "1hvr.pdb").ligands] == ["XK2 A 263"]
    assert [ligand.label for ligand in read_structure(STRUCTURES / "1a28.pdb").ligands] == [
        "STR A 1",
        "STR B 2",
    ]
    # 5PTI holds deuterated waters (DOD): they are waters, not ligands.
    assert [ligand.name for ligand in read_structure(STRUCTURES / "5PTI.cif").ligands] == ["PO4", "UNX"]


def test_mmcif_keeps_author_numbers_and_insertion_codes() -> None:
    structure = read_structure(STRUCTURES / "3PWP.cif")
    assert structure.format == "mmcif"
    assert list(structure.chains) == ["A", "B", "C", "D", "E"]
    chain_e = structure.chain("E")
    assert chain_e.residue_numbers[chain_e.index_of("116A")] == "116A"
    assert chain_e.index_of("116A") == chain_e.index_of("116") + 1
    assert structure.chain("C").sequence == "LGYGFVNYI"


def test_numbering_jumps_over_a_peptide_bond_are_not_chain_breaks() -> None:
    chain = read_structure(STRUCTURES / "3PWP.cif").chain("D")
    jump = chain.index_of("58")
    assert chain.residue_numbers[jump + 1] == "61"
    assert chain.breaks == ()


def test_missing_residues_are_a_recorded_break_not_filled(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, "1hvr.pdb", _residue("A", range(40, 43)))
    chain = read_structure(path).chain("A")
    full = read_structure(STRUCTURES / "1hvr.pdb").chain("A")
    assert len(chain.sequence) == 96
    assert chain.sequence == full.sequence[:39] + full.sequence[42:]
    assert chain.breaks == (ChainBreak(after_index=38, before="39", after="43", reason="distance"),)


def test_modified_residue_not_bonded_to_the_chain_is_a_ligand(tmp_path: Path) -> None:
    path = _edited_copy(
        tmp_path, "1hvr.pdb", lambda line: _residue("A", range(66, 69))(line) and "CSO" not in line
    )
    structure = read_structure(path)
    assert "CSO A 67" in [ligand.label for ligand in structure.ligands]
    assert structure.chain("A").modified == ()
    assert len(structure.chain("A").sequence) == 96


def test_gzipped_structure_is_read(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "5PTI.cif.gz"
    path.write_bytes(gzip.compress((STRUCTURES / "5PTI.cif").read_bytes()))
    assert read_structure(path).chain("A").sequence.startswith("RPDFCLEPPYTGPCKARIIRYFYNAKAGLC")


def test_result_serialises_to_plain_json() -> None:
    import json

    payload = read_structure(STRUCTURES / "5a7u.pdb").to_dict()
    assert json.loads(json.dumps(payload))["chains"]["A"]["sequence"] == "KPYPCGLCNRCFTRRDLLIRHAQKIHS"
    assert payload["ligands"][0]["label"] == "ZN A 162"


def _text_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("this is a lab notebook entry\nnot a structure\n", encoding="utf-8")
    return path


def _binary_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 4)
    return path


def _ligand_only(tmp_path: Path, name: str) -> Path:
    return _edited_copy(tmp_path, "5a7u.pdb", lambda line: line.startswith("ATOM"), name=name)


@pytest.mark.parametrize(
    ("make", "name", "fragment"),
    [
        (lambda tmp, name: tmp / name, "missing.pdb", "does not exist"),
        (_text_file, "notes.pdb", "holds no atoms readable as PDB"),
        (_text_file, "notes.cif", "not a readable mmCIF file"),
        (_text_file, "notes.txt", "holds no atoms readable as PDB"),
        (_binary_file, "blob.pdb", "not a readable PDB file"),
        (_binary_file, "blob.dat", "not a readable PDB file"),
        (_binary_file, "blob.cif.gz", "not a readable mmCIF file"),
        (_ligand_only, "zinc_only.pdb", "holds no protein chain"),
    ],
)
def test_unusable_files_are_rejected_naming_the_path(
    tmp_path: Path, make: Callable[[Path, str], Path], name: str, fragment: str
) -> None:
    path = make(tmp_path, name)
    with pytest.raises(InputError, match=fragment) as info:
        read_structure(path)
    assert name in str(info.value)


def test_unknown_chain_lists_the_protein_chains() -> None:
    with pytest.raises(InputError, match=r"no protein chain 'Q'\. Protein chains: A, B"):
        read_structure(STRUCTURES / "1hvr.pdb").chain("Q")


def test_unknown_residue_number_names_the_chain_range() -> None:
    with pytest.raises(InputError, match=r"numbered '500'.*1\.\.99"):
        read_structure(STRUCTURES / "1hvr.pdb").chain("A").index_of(500)
