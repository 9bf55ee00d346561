"""The tool commands (``logos retrosynthesis`` ... ``logos score-objects``) and the file-writing commands,
used the way a person at a shell uses them: good inputs give parseable JSON, bad inputs give exit code 2
and one line that names the option, the rule and the fix, never a traceback or a stray file."""

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from logos_tools.cli.main import TOOL_COMMANDS, cli
from logos_tools.cli.tools import build_command
from logos_tools.store.results import ResultStore, StoredResult
from tests.demo_model import DEMO_F16

STRUCTURES = Path(__file__).parents[2] / "grammar" / "fixtures" / "structures"


@pytest.fixture(autouse=True)
def one_thread_and_fixture_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    # One llama.cpp thread: the demo model needs no more, and more threads spin on a shared machine.
    monkeypatch.setenv("LOGOS_THREADS", "1")
    monkeypatch.setenv("LOGOS_ALLOWED_ROOTS", str(STRUCTURES))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_usage_error(result: Result, *needles: str) -> None:
    """Exit 2 with the reason on stderr (no traceback, nothing on stdout) mentioning every needle."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def stored(outputs: dict[str, object] | None = None) -> StoredResult:
    return ResultStore.from_settings().record(
        "generate_molecules",
        inputs={"num_molecules": 2},
        model={"name": "demo", "is_demo": True, "backend": "llamacpp"},
        parameters={"seed": 1},
        outputs=outputs or {"molecules": [{"smiles": "CCO"}, {"smiles": "c1ccccc1O"}]},
        timings={"elapsed_s": 0.1},
    )


# -- help -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(TOOL_COMMANDS))
def test_every_option_of_every_tool_command_has_a_help_text(command: str) -> None:
    built = build_command(TOOL_COMMANDS[command])
    missing = [p.name for p in built.params if isinstance(p, click.Option) and not p.help]
    assert missing == []


def test_help_shows_ranges_defaults_and_single_word_flags() -> None:
    text = " ".join(run("design-ligands", "--help").stdout.split())
    assert "[1<=x<=5000]" in text  # --max-samples
    assert "[default: 10; 1<=x<=200]" in text  # --num-molecules
    assert "--no-pains " in text
    assert "--no-no-pains" not in text
    assert "--lipinski " in text
    assert "--no-lipinski" not in text
    assert "[default: protein]" in run("complete-sequence", "--help").stdout


def test_help_names_arguments_as_the_options_a_shell_user_types() -> None:
    text = " ".join(run("find-binding-sites", "--help").stdout.split())
    assert "Give either --sequence or --structure-path (+ --chain)" in text
    assert "LOGOS_ALLOWED_ROOTS" in text
    helps = {p.name: p.help for p in build_command("design_ligands").params if isinstance(p, click.Option)}
    assert "a sequence (with --pocket-positions)" in (helps["pocket_sequence"] or "")


def test_get_job_is_hidden_and_explains_why_it_cannot_work_from_a_shell() -> None:
    assert "get-job" not in run("--help").stdout
    result = run("get-job", "--job-id", "j-0123456789ab")
    assert_usage_error(result, "cannot work from the command line", "--time-budget-s")
    assert len(result.stderr.strip().splitlines()) == 1


# -- bad values are usage errors naming the option --------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-3", "100000000000000000000"])
def test_a_sample_count_out_of_range_names_the_option_and_its_range(value: str) -> None:
    result = run("retrosynthesis", "--product", "CCO", "--num-samples", value)
    assert_usage_error(result, "--num-samples", "1<=x<=256")


def test_a_value_of_the_wrong_type_names_the_option() -> None:
    assert_usage_error(run("retrosynthesis", "--product", "CCO", "--num-samples", "abc"), "--num-samples")
    assert_usage_error(run("generate-molecules", "--max-mw", "0"), "--max-mw", "x>0")


def test_a_too_long_ligand_name_names_the_option_and_the_limit() -> None:
    result = run("design-ligands", "--structure-path", "1hvr.pdb", "--ligand", "XK2X")
    assert_usage_error(result, "--ligand", "'XK2X'", "at most 3 characters")


def test_a_repeatable_option_given_too_often_says_how_often_it_may_be() -> None:
    result = run("predict-reaction", *["--reactants", "C"] * 11)
    assert_usage_error(result, "--reactants", "given 11 times; at most 10")


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("CCO", "Write KIND:VALUE, e.g. molecule:CCO"),
        ("{bad json", "is not valid JSON"),
        ("nope:CCO", "kind: Input should be 'molecule'"),
        ('{"kind": "molecule"}', "value: Field required"),
    ],
)
def test_a_malformed_object_to_score_says_how_to_write_one(value: str, needle: str) -> None:
    assert_usage_error(run("score-objects", "--objects", value), "--objects", needle)


def test_a_malformed_smiles_is_one_line_naming_the_value_and_the_fix() -> None:
    result = run("retrosynthesis", "--product", "C1CC")
    assert_usage_error(result, "'C1CC'", "unclosed ring", "e.g. 'C1CC1'")
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_structure_outside_the_allowed_folders_is_refused_with_the_setting_to_change() -> None:
    result = run("find-binding-sites", "--structure-path", "/etc/passwd")
    assert_usage_error(result, "'/etc/passwd'", "outside the folders", "LOGOS_ALLOWED_ROOTS")


# -- good values ----------------------------------------------------------------------------------
def test_score_objects_takes_kind_value_shorthand_and_json_objects() -> None:
    result = run(
        "score-objects",
        "--objects",
        "molecule:CCO",
        "--objects",
        '{"kind": "protein", "value": "MKTAY"}',
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(score["kind"] for score in data["scores"]) == ["molecule", "protein"]
    assert data["result_id"].startswith("r-")


def test_a_time_budget_cut_in_a_shell_leaves_no_background_job_and_says_how_to_finish() -> None:
    # 500 molecules of QED >= 0.9 from a model whose samples rarely reach it: no machine gets there in 1 s.
    args = ["generate-molecules", "--num-molecules", "500", "--min-qed", "0.9", "--max-samples", "5000"]
    args += ["--seed", "1"]
    result = run(*args, "--time-budget-s", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run"]["partial"] is True
    assert data["job_id"] is None
    assert ResultStore.from_settings().get(data["result_id"]).outputs["job_id"] is None
    text = run(*args, "--time-budget-s", "1").stdout
    assert "get_job" not in text
    assert "Rerun with a larger --time-budget-s (this run had 1 s" in text


# -- files written by commands ----------------------------------------------------------------------
def test_export_refuses_to_replace_a_file_without_force(tmp_path: Path) -> None:
    item = stored()
    out = tmp_path / "mols.sdf"
    out.write_text("keep me", encoding="utf-8")
    result = run("results", "export", item.id, "--out", str(out))
    assert_usage_error(result, "already exists", "--force")
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run("results", "export", item.id, "--out", str(out), "--force").exit_code == 0
    assert out.read_text(encoding="utf-8") != "keep me"


def test_export_into_a_missing_folder_says_to_create_it_and_creates_nothing(tmp_path: Path) -> None:
    item = stored()
    result = run("results", "export", item.id, "--out", str(tmp_path / "typo" / "mols.sdf"))
    assert_usage_error(result, "which does not exist", "mkdir -p")
    assert list(tmp_path.iterdir()) == []


def test_export_of_an_unknown_result_is_reported_before_any_file_question(tmp_path: Path) -> None:
    out = tmp_path / "mols.sdf"
    out.write_text("keep me", encoding="utf-8")
    result = run("results", "export", "r-0123456789ab", "--out", str(out))
    assert result.exit_code == 1
    assert "No stored result has the id 'r-0123456789ab'" in result.stderr


def test_a_legend_for_a_format_without_pictures_is_refused(tmp_path: Path) -> None:
    item = stored()
    result = run("results", "export", item.id, "--out", str(tmp_path / "mols.csv"), "--legend", "qed")
    assert_usage_error(result, "--legend 'qed' only applies to PNG")
    assert list(tmp_path.iterdir()) == []


def test_quantize_refuses_to_replace_a_file_or_write_into_a_missing_folder(tmp_path: Path) -> None:
    existing = tmp_path / "q8.gguf"
    existing.write_bytes(b"keep me")
    args = ["model", "quantize", str(DEMO_F16)]
    assert_usage_error(run(*args, str(existing), "--type", "Q8_0"), "already exists", "--force")
    assert existing.read_bytes() == b"keep me"
    assert_usage_error(run(*args, str(tmp_path / "typo" / "q8.gguf"), "--type", "Q8_0"), "mkdir -p")
    assert_usage_error(run(*args, str(tmp_path / "x.gguf"), "--type", "Q8_0", "--threads", "0"), "--threads")


def test_convert_of_a_missing_checkpoint_prints_only_the_error(tmp_path: Path) -> None:
    result = run("model", "convert", str(tmp_path / "no-such-checkpoint"), str(tmp_path / "out.gguf"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")  # no progress bar before it
    assert list(tmp_path.iterdir()) == []


def test_grammar_pocket_positions_are_checked_in_the_cli_numbering() -> None:
    result = run("grammar", "encode", "pocket", "MKTLAVFG", "--positions", "4,9")
    assert_usage_error(result, "--positions", "position 9 is outside the 8-residue sequence", "from 1 to 8")
