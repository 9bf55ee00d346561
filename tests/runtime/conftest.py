"""The runtime tests run the real llama.cpp backend on the shipped demo GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions
from logos_tools.shipped import gguf_dir

DEMO_F16 = gguf_dir() / "demo" / "logos-demo-f16.gguf"
DEMO_Q8 = gguf_dir() / "demo" / "logos-demo-q8_0.gguf"
DEMO_HF = gguf_dir() / "demo" / "hf"


@pytest.fixture(scope="session")
def demo_path() -> Path:
    assert DEMO_F16.is_file(), f"the shipped demo model {DEMO_F16} is missing; build it with gguf/recipes"
    return DEMO_F16


@pytest.fixture(scope="session")
def demo_backend(demo_path: Path) -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(demo_path, name="demo", is_demo=True, options=LlamaCppOptions(n_ctx=8192, n_threads=2))
    yield backend
    backend.close()
