from __future__ import annotations

from pathlib import Path

import pytest

from logos_tools.errors import ModelFileError, ModelNotFoundError
from logos_tools.models.manifest import load_manifest
from logos_tools.shipped import gguf_dir
from tests.models.manifest_text import manifest_with_demo_files


def test_shipped_manifest_lists_the_four_logos_checkpoints() -> None:
    manifest = load_manifest()
    by_id = {c.id: c for c in manifest.checkpoints}
    assert set(by_id) == {
        "LOGOS-Hub/LOGOS-pretrain-1B",
        "LOGOS-Hub/LOGOS-pretrain-3B",
        "LOGOS-Hub/LOGOS-8B",
        "LOGOS-Hub/LOGOS-pretrain-8B",
    }
    assert by_id["LOGOS-Hub/LOGOS-pretrain-1B"].architecture == "llama"
    assert by_id["LOGOS-Hub/LOGOS-pretrain-1B"].tokenizer_family == "llama-bpe"
    assert by_id["LOGOS-Hub/LOGOS-8B"].architecture == "qwen3"
    assert by_id["LOGOS-Hub/LOGOS-8B"].tokenizer_family == "qwen2"
    assert all(c.recommended_quantizations for c in manifest.checkpoints)


def test_checkpoints_are_found_by_id_or_short_name_in_any_case() -> None:
    manifest = load_manifest()
    assert manifest.checkpoint("logos-pretrain-3b") == manifest.checkpoint("LOGOS-Hub/LOGOS-pretrain-3B")
    assert manifest.checkpoint("LOGOS-13B") is None


def test_demo_entry_names_an_f16_and_a_q8_0_file_under_gguf() -> None:
    manifest = load_manifest()
    assert manifest.demo_path("f16") == gguf_dir() / "demo" / "logos-demo-f16.gguf"
    assert manifest.demo_path("q8_0") == gguf_dir() / "demo" / "logos-demo-q8_0.gguf"
    assert manifest.demo_hf_dir == gguf_dir() / "demo" / "hf"
    with pytest.raises(ModelNotFoundError, match="'q2_k'"):
        manifest.demo_path("q2_k")


def test_a_typo_in_the_manifest_fails_with_its_key_path(tmp_path: Path) -> None:
    text = (
        (gguf_dir() / "manifest.toml")
        .read_text(encoding="utf-8")
        .replace('architecture = "qwen3"', 'architecture = "qwen"', 1)
    )
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"checkpoints\.2\.architecture"):
        load_manifest(path)


def test_demo_file_hashes_must_be_sha256_hex(tmp_path: Path) -> None:
    text = manifest_with_demo_files({"f16": 'path = "demo/logos-demo-f16.gguf"\nsha256 = "abc"'})
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"demo\.files\.f16\.sha256"):
        load_manifest(path)
