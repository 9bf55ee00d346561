import csv
import json
from pathlib import Path
from typing import Any

import pytest
from Bio import SeqIO
from PIL import Image
from rdkit import Chem

from logos_tools.errors import InputError
from logos_tools.store.exports import (
    atomic_path,
    export_result,
    find_records,
    format_from_path,
    molecule_records,
    sequence_records,
    write_csv,
    write_png,
    write_sdf,
)
from logos_tools.store.results import ResultStore, StoredResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

LIGANDS: dict[str, Any] = {
    "molecules": [
        {
            "id": "lig-1",
            "smiles": "CC(=O)Oc1ccccc1C(=O)O",
            "count": 3,
            "properties": {"qed": 0.5501, "mw": 180.159, "lipinski_pass": True, "pains_alerts": []},
        },
        {"smiles": "C1CC", "count": 1, "properties": None},
        {
            "smiles": "O=C1NC(=S)SC1=Cc1ccccc1",
            "count": 2,
            "properties": {
                "qed": 0.61,
                "mw": 221.3,
                "lipinski_pass": True,
                "pains_alerts": ["ene_rhod_A(235)"],
            },
        },
    ],
    "validity": 0.67,
}

SEQUENCES: dict[str, Any] = {
    "completions": [
        {"id": "variant 1", "sequence": "MKTAYIAKQR", "log_likelihood": -12.5},
        {"sequence": "MKT AYI", "log_likelihood": -30.0},
        {"sequence": "MKTAYIAKQRQISFVKSHFSRQ", "description": "from prefix MKT"},
    ]
}


def stored(store: ResultStore, outputs: dict[str, Any], tool: str = "design_ligands") -> StoredResult:
    return store.record(
        tool,
        inputs={"pocket": "MKT"},
        model={"name": "demo", "is_demo": True},
        parameters={"seed": 1},
        outputs=outputs,
        timings={"total_s": 1.0},
    )


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "results.sqlite3")


def test_records_are_found_in_nested_lists_in_document_order() -> None:
    outputs = {
        "product": {"smiles": "CCOC(C)=O"},
        "candidates": [
            {"reactants": [{"smiles": "CCO"}, {"smiles": "CC(=O)O"}], "count": 5},
            {"reactants": [{"smiles": "CCOC(C)=O", "role": "same"}], "count": 1},
        ],
        "proteins": [[{"sequence": "MKT"}]],
    }
    assert [r["smiles"] for r in molecule_records(outputs)] == ["CCO", "CC(=O)O", "CCOC(C)=O"]
    assert sequence_records(outputs) == [{"sequence": "MKT"}]
    assert find_records({"a": 1}, "smiles") == []


def test_sdf_export_opens_in_rdkit_with_the_other_fields_as_properties(
    store: ResultStore, tmp_path: Path
) -> None:
    result = stored(store, LIGANDS)
    report = export_result(store, result.id, "sdf", tmp_path / "out" / "ligands.sdf")
    mols = list(Chem.SDMolSupplier(str(tmp_path / "out" / "ligands.sdf")))
    assert all(mol is not None for mol in mols)
    assert [Chem.MolToSmiles(mol) for mol in mols] == ["CC(=O)Oc1ccccc1C(=O)O", "O=C1NC(=S)SC1=Cc1ccccc1"]
    assert mols[0].GetProp("_Name") == "lig-1"
    assert mols[1].GetProp("_Name") == f"{result.id}-3"
    assert mols[0].GetProp("qed") == "0.5501"
    assert mols[0].GetProp("count") == "3"
    assert mols[0].GetProp("lipinski_pass") == "true"
    assert mols[1].GetProp("pains_alerts") == "ene_rhod_A(235)"
    assert mols[0].GetConformer().Is3D() is False
    assert report.result_id == result.id
    assert (report.records, report.written) == (3, 2)
    assert [(item.index, item.value) for item in report.invalid] == [(1, "C1CC")]
    assert "unclosed ring" in report.invalid[0].reason


def test_csv_export_keeps_invalid_rows_with_an_empty_canonical_column(
    store: ResultStore, tmp_path: Path
) -> None:
    result = stored(store, LIGANDS)
    path = tmp_path / "ligands.csv"
    report = export_result(store, result.id, "csv", path)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:4] == ["smiles", "canonical_smiles", "id", "count"]
    assert {"qed", "mw", "lipinski_pass", "pains_alerts"} <= set(rows[0])
    assert [row["smiles"] for row in rows] == ["CC(=O)Oc1ccccc1C(=O)O", "C1CC", "O=C1NC(=S)SC1=Cc1ccccc1"]
    assert [row["canonical_smiles"] for row in rows] == [
        "CC(=O)Oc1ccccc1C(=O)O",
        "",
        "O=C1NC(=S)SC1=Cc1ccccc1",
    ]
    assert rows[0]["qed"] == "0.5501"
    assert rows[1]["qed"] == ""
    assert rows[2]["pains_alerts"] == "ene_rhod_A(235)"
    assert report.written == 3
    assert [item.index for item in report.invalid] == [1]


def test_nested_properties_become_columns_without_replacing_the_computed_canonical_smiles(
    tmp_path: Path,
) -> None:
    props = {"canonical_smiles": "WRONG", "smiles": "OCC", "qed": 0.41, "pains_alerts": ["a", "b"]}
    path = tmp_path / "m.csv"
    write_csv([{"smiles": "OCC", "rank": 1, "properties": props}], path)
    with path.open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["canonical_smiles"] == "CCO"
    assert row["properties.canonical_smiles"] == "WRONG"
    assert row["properties.smiles"] == "OCC"
    assert (row["rank"], row["qed"], row["pains_alerts"]) == ("1", "0.41", "a; b")


def test_fasta_export_opens_in_biopython_and_reports_a_bad_sequence(
    store: ResultStore, tmp_path: Path
) -> None:
    result = stored(store, SEQUENCES, tool="complete_sequence")
    path = tmp_path / "seqs.fasta"
    report = export_result(store, result.id, "fasta", path)
    with path.open(encoding="utf-8") as handle:
        records = list(SeqIO.parse(handle, "fasta"))  # type: ignore[no-untyped-call]
    assert [str(r.seq) for r in records] == ["MKTAYIAKQR", "MKTAYIAKQRQISFVKSHFSRQ"]
    assert records[0].id == "variant_1"
    assert records[0].description == "variant_1 log_likelihood=-12.5"
    assert records[1].id == f"{result.id}_3"
    assert records[1].description.endswith("from prefix MKT")
    assert [(item.index, item.value) for item in report.invalid] == [(1, "MKT AYI")]


def test_jsonl_export_writes_the_whole_stored_result_as_one_line(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, {"sites": [{"residues": [3, 7], "fraction": 0.8}]}, tool="find_binding_sites")
    path = tmp_path / "site.jsonl"
    report = export_result(store, result.id, "JSONL", path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert StoredResult.model_validate(json.loads(lines[0])) == result
    assert (report.format, report.written) == ("jsonl", 1)


def test_png_export_is_a_grid_image_of_the_valid_molecules(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, LIGANDS)
    path = tmp_path / "grid.png"
    report = export_result(store, result.id, "png", path, legend="qed")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (4 * 300, 300)  # two molecules, four per row, 300 px cells
    assert report.written == 2
    assert [item.value for item in report.invalid] == ["C1CC"]


def test_png_grid_stops_at_its_limit_and_says_how_many_were_left_out(tmp_path: Path) -> None:
    records = [{"smiles": "C" * n} for n in range(1, 8)]
    path = tmp_path / "grid.png"
    report = write_png(records, path, max_molecules=5, per_row=5, cell_size=(100, 120), legend="smiles")
    assert (report.written, report.truncated) == (5, 2)
    with Image.open(path) as image:
        assert image.size == (500, 120)


def test_png_of_only_invalid_molecules_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "grid.png"
    with pytest.raises(InputError, match="None of the 2 molecule records has a valid SMILES"):
        write_png([{"smiles": "C1CC"}, {"smiles": 5}], path)
    assert not path.exists()


def test_a_result_without_molecules_cannot_be_exported_as_sdf(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, {"scores": [1.2, 3.4]}, tool="score_objects")
    with pytest.raises(InputError, match=r"holds no molecules .*its records: jsonl \(the whole result"):
        export_result(store, result.id, "sdf", tmp_path / "x.sdf")
    with pytest.raises(InputError, match=r"holds no sequences"):
        export_result(store, result.id, "fasta", tmp_path / "x.fasta")
    assert not (tmp_path / "x.sdf").exists()
    assert not (tmp_path / "x.fasta").exists()


def _score(kind: str, rank: int, *, smiles: str | None = None, sequence: str | None = None) -> dict[str, Any]:
    """One entry of a score_objects result: every kind carries both keys, null when not its kind."""
    text = smiles or sequence or "CCO>>CC=O"
    return {
        "rank": rank,
        "index": rank - 1,
        "kind": kind,
        "text": text,
        "smiles": smiles,
        "sequence": sequence,
    }


@pytest.mark.parametrize("fmt", ["sdf", "png"])
def test_a_scoring_result_without_molecules_is_refused_as_a_molecule_file_and_nothing_is_written(
    store: ResultStore, tmp_path: Path, fmt: str
) -> None:
    scores = [_score("reaction", 1), _score("protein", 2, sequence="MKTAY")]
    result = stored(store, {"scores": scores}, tool="score_objects")
    path = tmp_path / f"out.{fmt}"
    with pytest.raises(InputError) as refused:
        export_result(store, result.id, fmt, path)
    message = str(refused.value)
    assert (
        f"holds no molecules (objects in a list with a non-null 'smiles'), so there is nothing to write as {fmt}"
        in (message)
    )
    assert "Formats that hold its records: csv (a table of 2 records), fasta (1 sequence), jsonl" in message
    assert not path.exists()
    assert export_result(store, result.id, "csv", tmp_path / "table.csv").written == 2  # the table keeps them


def test_a_scoring_result_without_sequences_is_refused_as_fasta_and_an_old_file_is_kept(
    store: ResultStore, tmp_path: Path
) -> None:
    scores = [_score("molecule", 1, smiles="CCO"), _score("reaction", 2)]
    result = stored(store, {"scores": scores}, tool="score_objects")
    path = tmp_path / "out.fasta"
    path.write_text(">old\nMKT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"holds no sequences .*its records: sdf, png \(1 molecule\), csv"):
        export_result(store, result.id, "fasta", path)
    assert path.read_text(encoding="utf-8") == ">old\nMKT\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("results.sqlite3")) == [
        "out.fasta"
    ]


def test_records_of_another_kind_are_left_out_of_sdf_and_fasta_and_not_counted_as_invalid(
    store: ResultStore, tmp_path: Path
) -> None:
    scores = [
        _score("protein", 1, sequence="MKTAY"),
        _score("molecule", 2, smiles="CCO"),
        _score("reaction", 3),
    ]
    result = stored(store, {"scores": scores}, tool="score_objects")
    sdf = export_result(store, result.id, "sdf", tmp_path / "m.sdf")
    assert (sdf.records, sdf.written, sdf.invalid) == (1, 1, [])
    assert [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(str(tmp_path / "m.sdf"))] == ["CCO"]
    fasta = export_result(store, result.id, "fasta", tmp_path / "p.fasta")
    assert (fasta.records, fasta.written, fasta.invalid) == (1, 1, [])


def test_an_sdf_or_fasta_that_would_be_empty_is_refused_and_writes_nothing(
    store: ResultStore, tmp_path: Path
) -> None:
    outputs = {"molecules": [{"smiles": "C1CC"}, {"smiles": "xyz"}], "completions": [{"sequence": "12 3"}]}
    result = stored(store, outputs)
    with pytest.raises(
        InputError, match=r"None of the 2 molecule records .*#0 'C1CC'.*1 more\), so the file"
    ):
        export_result(store, result.id, "sdf", tmp_path / "m.sdf")
    with pytest.raises(InputError, match=r"None of the 1 sequence records holds a valid sequence"):
        export_result(store, result.id, "fasta", tmp_path / "s.fasta")
    assert not (tmp_path / "m.sdf").exists()
    assert not (tmp_path / "s.fasta").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_unknown_legend_field_is_refused_with_the_fields_there_are(
    store: ResultStore, tmp_path: Path
) -> None:
    result = stored(store, LIGANDS)
    path = tmp_path / "grid.png"
    with pytest.raises(InputError) as refused:
        export_result(store, result.id, "png", path, legend="nope")
    message = str(refused.value)
    assert "Legend field 'nope' is not a field of these molecule records" in message
    assert "Pass one of: id, smiles, count, qed, mw, lipinski_pass, pains_alerts" in message
    assert not path.exists()


def test_a_legend_field_present_in_only_some_records_is_accepted(tmp_path: Path) -> None:
    report = write_png([{"smiles": "CCO", "qed": 0.4}, {"smiles": "CCN"}], tmp_path / "g.png", legend="qed")
    assert report.written == 2


def test_a_legend_for_a_format_without_pictures_is_refused(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, LIGANDS)
    with pytest.raises(InputError, match=r"legend \('qed'\) only applies to png grids"):
        export_result(store, result.id, "csv", tmp_path / "m.csv", legend="qed")
    assert not (tmp_path / "m.csv").exists()


def test_an_unknown_format_lists_the_supported_ones(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, LIGANDS)
    with pytest.raises(
        InputError, match=r"'mol2' is not supported\. Use one of: sdf, csv, fasta, jsonl, png"
    ):
        export_result(store, result.id, "mol2", tmp_path / "x.mol2")


def test_the_format_is_taken_from_the_file_suffix() -> None:
    assert format_from_path("a/ligands.SDF") == "sdf"
    assert format_from_path("seqs.fa") == "fasta"
    with pytest.raises(InputError, match=r"suffix '\.txt' is not one of"):
        format_from_path("notes.txt")


def test_exporting_onto_a_folder_is_refused(store: ResultStore, tmp_path: Path) -> None:
    result = stored(store, LIGANDS)
    with pytest.raises(InputError, match=r"is a folder\. Pass a file name"):
        export_result(store, result.id, "csv", tmp_path)


def test_an_existing_file_is_replaced_whole_or_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ligands.sdf"
    path.write_text("old content\n", encoding="utf-8")

    def fail_half_way() -> None:
        with atomic_path(path) as temporary:
            temporary.write_text("half", encoding="utf-8")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way()
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ligands.sdf"]
    write_sdf([{"smiles": "CCO"}], path)
    assert [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(str(path))] == ["CCO"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ligands.sdf"]
