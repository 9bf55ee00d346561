import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from rdkit import Chem

from logos_tools.cli.main import cli
from logos_tools.store.results import ResultStore, StoredResult


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["results", *args])


def stored(tool: str = "generate_molecules", outputs: dict[str, Any] | None = None) -> StoredResult:
    return ResultStore.from_settings().record(
        tool,
        inputs={"n": 2},
        model={"name": "demo", "sha256": "00" * 32, "is_demo": True, "backend": "llamacpp"},
        parameters={"temperature": 1.2, "seed": 3},
        outputs=outputs
        if outputs is not None
        else {"molecules": [{"smiles": "CCO"}, {"smiles": "c1ccccc1O"}]},
        timings={"total_s": 0.5},
    )


def test_list_shows_the_stored_results_newest_first() -> None:
    first = stored()
    second = stored(tool="retrosynthesis")
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "(UTC)", "STATUS"]
    assert [line.split()[0] for line in lines[1:]] == [second.id, first.id]
    assert "retrosynthesis" in lines[1]
    assert "demo" in lines[1]


def test_list_json_filters_by_tool_and_limits() -> None:
    stored()
    wanted = stored(tool="retrosynthesis")
    stored(tool="retrosynthesis")
    result = run("list", "--tool", "retrosynthesis", "--limit", "2", "--json")
    data = json.loads(result.stdout)
    assert [item["tool"] for item in data] == ["retrosynthesis", "retrosynthesis"]
    assert data[1]["id"] == wanted.id


def test_list_of_an_empty_store_says_how_results_appear() -> None:
    result = run("list")
    assert result.exit_code == 0
    assert result.stdout.startswith("No stored results yet.")
    assert json.loads(run("list", "--json").stdout) == []


def test_show_json_prints_the_whole_stored_result() -> None:
    item = stored()
    result = run("show", item.id, "--json")
    assert result.exit_code == 0, result.output
    assert StoredResult.model_validate_json(result.stdout) == item


def test_show_text_names_the_tool_model_and_outputs() -> None:
    item = stored()
    text = run("show", item.id).stdout
    assert f"id:         {item.id}" in text
    assert "model:      demo (demo model)" in text
    assert '"smiles": "c1ccccc1O"' in text


def test_show_of_an_unknown_id_fails_with_a_one_line_reason() -> None:
    result = run("show", "r-0123456789ab")
    assert result.exit_code == 1
    assert "No stored result has the id 'r-0123456789ab'" in result.stderr
    assert "logos results list" in result.stderr


def test_a_malformed_id_is_a_usage_error_with_the_format() -> None:
    result = run("show", "12")
    assert result.exit_code == 2
    assert "ids are 'r-' followed by 12 lowercase hex digits" in result.stderr


def test_export_writes_an_sdf_that_rdkit_reads(tmp_path: Path) -> None:
    item = stored()
    out = tmp_path / "mols.sdf"
    result = run("export", item.id, "--format", "sdf", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote 2 of 2 records to {out} (sdf)")
    assert [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(str(out))] == ["CCO", "Oc1ccccc1"]


def test_export_takes_the_format_from_the_suffix_and_lists_invalid_rows(tmp_path: Path) -> None:
    item = stored(outputs={"molecules": [{"smiles": "CCO"}, {"smiles": "C1CC"}]})
    out = tmp_path / "mols.csv"
    result = run("export", item.id, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["format"], report["written"], report["invalid"][0]["value"]) == ("csv", 2, "C1CC")
    text = run("export", item.id, "--out", str(out), "--force").stdout
    assert "1 invalid (kept in the file with an empty canonical_smiles):" in text


def test_export_of_a_result_without_molecules_says_to_use_jsonl(tmp_path: Path) -> None:
    item = stored(tool="score_objects", outputs={"scores": [2.5]})
    result = run("export", item.id, "--format", "png", "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert "jsonl (the whole result as JSON)" in result.stderr
    assert run("export", item.id, "--out", str(tmp_path / "x.jsonl")).exit_code == 0


def test_delete_removes_the_result() -> None:
    item = stored()
    result = run("delete", item.id)
    assert result.exit_code == 0
    assert result.stdout == f"deleted {item.id}\n"
    assert run("show", item.id).exit_code == 1


def test_results_is_listed_in_the_top_level_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "results" in result.stdout


def test_the_results_command_does_not_load_rdkit_until_an_export_needs_it() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from logos_tools.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['results', 'list', '--json'])\n"
        "print(result.exit_code, 'rdkit' in sys.modules, 'Bio' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]
