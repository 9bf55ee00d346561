"""``logos model …`` through click's CliRunner: JSON on stdout, progress and errors on stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from logos_tools.cli.main import cli


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["model", *args])


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_json_shows_demo_and_checkpoints_with_status() -> None:
    rows = _json(_run("list", "--json"))
    by_name = {row["name"]: row for row in rows}
    assert by_name["demo"]["kind"] == "demo"
    assert by_name["demo-q8_0"]["quantization"] == "Q8_0"
    assert by_name["LOGOS-pretrain-1B"]["status"] == "not downloaded"
    assert by_name["LOGOS-8B"]["hf_repo"] == "LOGOS-Hub/LOGOS-8B"


def test_add_info_list_remove_round_trip(tiny_llama_q8: Path, tmp_path: Path) -> None:
    model = tmp_path / "tiny.gguf"
    shutil.copyfile(tiny_llama_q8, model)
    added = _json(_run("add", str(model), "--name", "tiny", "--json"))
    assert added["name"] == "tiny"
    info = _json(_run("info", "tiny", "--json"))
    assert info["name"] == "tiny"  # the registered name, not the file's general.name
    assert info["general_name"] != "tiny"
    assert info["quantization"] == "Q8_0"
    assert info["tokenizer_pre"] == "llama-bpe"
    assert info["sha256"] == added["sha256"]
    assert {t["tag"] for t in info["tags"] if t["token_id"] is not None} >= {"<MoleculeS>", "<Trans>"}
    assert "tiny" in {row["name"] for row in _json(_run("list", "--json"))}
    assert _json(_run("remove", "tiny", "--json"))["path"] == str(model.resolve())
    assert "tiny" not in {row["name"] for row in _json(_run("list", "--json"))}


def test_info_text_output_names_the_tags(tiny_llama_f16: Path) -> None:
    result = _run("info", str(tiny_llama_f16))
    assert result.exit_code == 0
    assert "quantization:  F16" in result.stdout
    assert "<MoleculeS>=" in result.stdout


def test_convert_and_quantize_write_json_reports_and_keep_progress_on_stderr(
    tiny_qwen3_dir: Path, tmp_path: Path
) -> None:
    f16 = tmp_path / "q.gguf"
    convert = CliRunner().invoke(cli, ["model", "convert", str(tiny_qwen3_dir), str(f16), "--json"])
    report = _json(convert)
    assert report["architecture"] == "qwen3"
    assert report["out_type"] == "f16"
    assert report["tag_token_type"] == "user_defined"
    assert "converting" in convert.stderr
    quantized = _json(_run("quantize", str(f16), str(tmp_path / "q8.gguf"), "--type", "Q8_0", "--json"))
    assert quantized["type"] == "Q8_0"
    assert quantized["output_size"] < report["file_size"]


def test_verify_json_passes_for_a_faithful_conversion(tiny_llama_f32: Path, tiny_llama_dir: Path) -> None:
    report = _json(_run("verify", str(tiny_llama_f32), "--hf", str(tiny_llama_dir), "--json"))
    assert report["passed"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["logits_parity"]["passed"] is True
    assert checks["loads"]["numbers"]["n_ctx_train"] > 0


def test_verify_exits_1_when_a_check_fails(
    tiny_llama_f32: Path, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    from tests.models.tiny_checkpoints import copy_with_string_value

    wrong = copy_with_string_value(tiny_llama_f32, tmp_path / "wrong.gguf", "tokenizer.ggml.pre", "starcoder")
    result = _run("verify", str(wrong), "--hf", str(tiny_llama_dir), "--no-logits")
    assert result.exit_code == 1
    assert "FAIL tokenizer_parity" in result.stdout


def test_errors_go_to_stderr_with_exit_codes() -> None:
    missing = _run("info", "no-such-model")
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert "No model named 'no-such-model'" in missing.stderr
    bad_type = _run("quantize", "a.gguf", "b.gguf", "--type", "Q9_9")
    assert bad_type.exit_code == 2
    assert "error:" in bad_type.stderr


def test_an_empty_name_and_removing_the_demo_are_usage_errors(tiny_llama_q8: Path) -> None:
    empty = _run("add", str(tiny_llama_q8), "--name", "")
    assert empty.exit_code == 2
    assert "Model name '' is empty" in empty.stderr
    assert "tiny-llama-q8_0" not in _run("list").stdout
    demo = _run("remove", "demo")
    assert demo.exit_code == 2
    assert "cannot be removed" in demo.stderr
    assert "LOGOS_MODEL" in demo.stderr


def test_info_of_an_unknown_name_lists_the_names_model_list_shows() -> None:
    missing = _run("info", "nope")
    assert missing.exit_code == 1
    names = [row["name"] for row in _json(_run("list", "--json"))]
    assert all(name in missing.stderr for name in names)
