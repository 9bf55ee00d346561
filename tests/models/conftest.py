"""Session fixtures: tiny random LOGOS-style checkpoints and their GGUF conversions, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from logos_tools.models.convert import convert_checkpoint
from logos_tools.models.quantize import quantize_gguf
from tests.models.tiny_checkpoints import build_tiny_llama, build_tiny_qwen3


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Untied Llama with Llama-3 RoPE scaling and a Llama-3-style tokenizer (f32 safetensors)."""
    return build_tiny_llama(tmp_path_factory.mktemp("hf") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tied Qwen3 with head_dim != hidden/heads and 12 embedding rows beyond the tokenizer."""
    return build_tiny_qwen3(tmp_path_factory.mktemp("hf") / "tiny-qwen3")


@pytest.fixture(scope="session")
def tiny_llama_f32(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gguf") / "tiny-llama-f32.gguf"
    convert_checkpoint(tiny_llama_dir, out, out_type="f32")
    return out


@pytest.fixture(scope="session")
def tiny_llama_f16(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gguf") / "tiny-llama-f16.gguf"
    convert_checkpoint(tiny_llama_dir, out, out_type="f16")
    return out


@pytest.fixture(scope="session")
def tiny_llama_q8(tiny_llama_f16: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gguf") / "tiny-llama-q8_0.gguf"
    quantize_gguf(tiny_llama_f16, out, "Q8_0", nthread=2)
    return out


@pytest.fixture(scope="session")
def tiny_qwen3_f32(tiny_qwen3_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gguf") / "tiny-qwen3-f32.gguf"
    convert_checkpoint(tiny_qwen3_dir, out, out_type="f32")
    return out
