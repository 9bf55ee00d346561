"""Shared fixtures: every test gets its own LOGOS_HOME, so no test touches the user's files; the demo
model is loaded once per session for every test that runs the real llama.cpp runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logos_tools.grammar.profile import Profile, load_profile
from tests.demo_model import DEMO_F16


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("logos-home")
    monkeypatch.setenv("LOGOS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile("logos-v1")


@pytest.fixture(scope="session")
def demo_path() -> Path:
    assert DEMO_F16.is_file(), f"the shipped demo model {DEMO_F16} is missing; build it with gguf/recipes"
    return DEMO_F16


@pytest.fixture(scope="session")
def demo_backend(demo_path: Path) -> Iterator[object]:
    """The real llama.cpp backend on the demo GGUF (typed as object to keep conftest import-light).

    One thread: llama.cpp's threads spin-wait, and on a loaded 2-core machine two threads ran about
    10x slower than one; the tiny demo model does not need more.
    """
    from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(
        demo_path, name="demo", is_demo=True, options=LlamaCppOptions(n_ctx=8192, n_threads=1)
    )
    yield backend
    backend.close()
