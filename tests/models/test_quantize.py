from __future__ import annotations

import os
from pathlib import Path

import pytest

from logos_tools.errors import InputError, ModelFileError
from logos_tools.grammar.profile import Profile
from logos_tools.models.gguf_file import inspect_gguf
from logos_tools.models.quantize import QUANT_TYPES, quant_type_id, quantize_gguf


def test_q8_0_quantization_reports_sizes_and_keeps_logos_metadata(
    tiny_llama_f16: Path, tmp_path: Path, profile: Profile
) -> None:
    out = tmp_path / "q8.gguf"
    report = quantize_gguf(tiny_llama_f16, out, "q8_0", nthread=2)
    assert report.type == "Q8_0"
    assert report.source_type == "F16"
    assert report.output_size == out.stat().st_size
    assert report.ratio == pytest.approx(report.output_size / report.source_size, abs=1e-4)
    assert report.ratio < 0.7
    assert report.elapsed_s >= 0
    source = inspect_gguf(tiny_llama_f16, tags=profile.all_tags(), compute_sha256=False)
    quantized = inspect_gguf(out, tags=profile.all_tags(), compute_sha256=False)
    assert quantized.quantization == "Q8_0"
    assert quantized.logos_metadata == source.logos_metadata
    assert quantized.tags == source.tags
    assert (quantized.tokenizer_pre, quantized.bos_id, quantized.eos_id) == (
        "llama-bpe",
        source.bos_id,
        source.eos_id,
    )


def test_k_quant_falls_back_where_rows_are_too_short_and_still_loads(
    tiny_llama_f16: Path, tmp_path: Path
) -> None:
    report = quantize_gguf(tiny_llama_f16, tmp_path / "q4km.gguf", "Q4_K_M", nthread=2)
    info = inspect_gguf(tmp_path / "q4km.gguf", compute_sha256=False)
    assert info.quantization == "Q4_K_M"
    assert report.output_size < report.source_size


def test_unknown_quantization_type_lists_the_choices() -> None:
    with pytest.raises(InputError, match=r"Q5_X.*Q4_K_M"):
        quant_type_id("Q5_X")
    assert quant_type_id("q4_k_m") == QUANT_TYPES["Q4_K_M"]


def test_quantizing_onto_the_input_file_is_refused(tiny_llama_f16: Path) -> None:
    with pytest.raises(InputError, match="is the input file"):
        quantize_gguf(tiny_llama_f16, tiny_llama_f16, "Q8_0")


def test_bad_input_leaves_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelFileError):
        quantize_gguf(bad, tmp_path / "out.gguf", "Q8_0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gguf"]


def test_a_hard_link_to_the_input_is_refused_as_the_input(tiny_llama_f16: Path, tmp_path: Path) -> None:
    link = tmp_path / "same.gguf"
    os.link(tiny_llama_f16, link)
    with pytest.raises(InputError, match="is the input file"):
        quantize_gguf(tiny_llama_f16, link, "Q8_0")


def test_an_output_folder_is_refused_with_a_file_path_hint(tiny_llama_f16: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a folder\. Pass a file path in it"):
        quantize_gguf(tiny_llama_f16, tmp_path, "Q8_0")
    assert list(tmp_path.iterdir()) == []


def test_requantizing_a_quantized_file_works_and_warns(
    tiny_llama_q8: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = quantize_gguf(tiny_llama_q8, tmp_path / "q4.gguf", "Q4_0", nthread=2)
    assert (report.source_type, report.type) == ("Q8_0", "Q4_0")
    assert "already quantized (Q8_0)" in caplog.text
