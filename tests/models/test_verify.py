from __future__ import annotations

from pathlib import Path

from logos_tools.models.convert import convert_checkpoint
from logos_tools.models.verify import F32_MAX_ABS_DIFF, verify_gguf
from tests.models.tiny_checkpoints import copy_with_string_value


def test_f32_llama_passes_every_check_with_its_numbers(tiny_llama_f32: Path, tiny_llama_dir: Path) -> None:
    report = verify_gguf(tiny_llama_f32, tiny_llama_dir)
    assert report.passed, report.checks
    assert [c.name for c in report.checks] == [
        "loads",
        "tags_single_token",
        "decodes",
        "tokenizer_parity",
        "logits_parity",
    ]
    tokenizer = report.check("tokenizer_parity")
    assert tokenizer.numbers["probes"] >= 1000
    assert tokenizer.numbers["mismatches"] == 0
    logits = report.check("logits_parity")
    assert logits.numbers["max_abs_diff"] < F32_MAX_ABS_DIFF
    assert logits.numbers["top1_agreement"] == 1.0
    assert report.check("tags_single_token").numbers["single_without_special"] == 16


def test_f32_qwen3_passes_every_check(tiny_qwen3_f32: Path, tiny_qwen3_dir: Path) -> None:
    report = verify_gguf(tiny_qwen3_f32, tiny_qwen3_dir)
    assert report.passed, report.checks
    assert report.check("logits_parity").numbers["max_abs_diff"] < F32_MAX_ABS_DIFF


def test_q8_0_reports_top1_agreement_and_passes_its_floor(tiny_llama_q8: Path, tiny_llama_dir: Path) -> None:
    report = verify_gguf(tiny_llama_q8, tiny_llama_dir)
    logits = report.check("logits_parity")
    assert report.quantization == "Q8_0"
    assert logits.passed
    assert 0.8 <= logits.numbers["top1_agreement"] <= 1.0
    assert logits.numbers["max_abs_diff"] > F32_MAX_ABS_DIFF  # quantization does change logits
    assert report.check("decodes").passed


def test_wrong_pre_tokenizer_fails_tokenizer_parity(
    tiny_llama_f32: Path, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    wrong = copy_with_string_value(
        tiny_llama_f32, tmp_path / "wrong-pre.gguf", "tokenizer.ggml.pre", "starcoder"
    )
    report = verify_gguf(wrong, tiny_llama_dir, check_logits=False)
    tokenizer = report.check("tokenizer_parity")
    assert not report.passed
    assert tokenizer.passed is False
    assert tokenizer.numbers["mismatches"] > 50
    assert "mis-tokenizes silently" in tokenizer.detail


def test_control_tags_pass_but_the_report_warns_that_servers_drop_them(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "control.gguf"
    convert_checkpoint(tiny_llama_dir, out, out_type="f16", tag_token_type="control")
    tags = verify_gguf(out).check("tags_single_token")
    assert tags.passed
    assert tags.numbers["single_without_special"] == 0
    assert "servers drop CONTROL tokens" in tags.detail


def test_without_a_checkpoint_folder_parity_checks_are_skipped_not_passed(tiny_llama_f16: Path) -> None:
    report = verify_gguf(tiny_llama_f16)
    assert report.passed, report.checks
    assert report.check("tokenizer_parity").passed is None
    assert report.check("logits_parity").passed is None
    assert "--hf" in report.check("logits_parity").detail
    assert report.check("decodes").numbers["generated_tokens"] == 8


def test_missing_torch_gives_an_install_hint(tiny_llama_f32: Path, tiny_llama_dir: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from pathlib import Path\n"
        "from logos_tools.errors import MissingDependencyError\n"
        "from logos_tools.models.verify import verify_gguf\n"
        "try:\n"
        f"    verify_gguf(Path({str(tiny_llama_f32)!r}), Path({str(tiny_llama_dir)!r}))\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert "needs the Python package 'torch'" in result.stdout
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in result.stdout


def test_a_gguf_checked_against_another_checkpoint_fails_with_numbers_instead_of_crashing(
    tiny_qwen3_f32: Path, tiny_llama_dir: Path
) -> None:
    report = verify_gguf(tiny_qwen3_f32, tiny_llama_dir)
    assert not report.passed
    assert report.hf_dir == str(tiny_llama_dir)
    assert report.check("tokenizer_parity").passed is False
    assert report.check("tokenizer_parity").numbers["mismatches"] > 0
    logits = report.check("logits_parity")
    assert logits.passed is False
    assert logits.numbers["gguf_vocab"] != logits.numbers["hf_vocab"]
    assert "was not converted from this checkpoint" in logits.detail


def _with_uint32(src: Path, dst: Path, key: str, value: int) -> Path:
    data = bytearray(src.read_bytes())
    key_bytes = key.encode("utf-8")
    at = data.index(len(key_bytes).to_bytes(8, "little") + key_bytes) + 8 + len(key_bytes)
    assert int.from_bytes(data[at : at + 4], "little") == 4, f"{key} is not a uint32"
    data[at + 4 : at + 8] = value.to_bytes(4, "little")
    dst.write_bytes(bytes(data))
    return dst


def test_a_gguf_whose_weights_do_not_load_fails_the_loads_check_instead_of_raising(
    tiny_llama_f16: Path, tmp_path: Path
) -> None:
    # 4 KV heads in the metadata but tensors shaped for 2: the vocabulary loads, the weights do not.
    broken = _with_uint32(tiny_llama_f16, tmp_path / "broken.gguf", "llama.attention.head_count_kv", 4)
    report = verify_gguf(broken)
    assert not report.passed
    loads = report.check("loads")
    assert loads.passed is False
    assert "the weights do not load" in loads.detail
    assert "attn_k.weight" in loads.detail
