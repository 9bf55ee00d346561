"""Shared fixtures: every test gets its own LOGOS_HOME, so no test touches the user's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from logos_tools.grammar.profile import Profile, load_profile


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("logos-home")
    monkeypatch.setenv("LOGOS_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile("logos-v1")
