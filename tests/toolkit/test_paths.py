"""Structure-file paths: confined to the allowed roots; relative ones found where a user means them."""

from __future__ import annotations

from pathlib import Path

import pytest

from logos_tools.errors import InputError, PathNotAllowedError
from logos_tools.toolkit.paths import resolve_input_file


def _file(path: Path, text: str = "ATOM\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def test_a_relative_path_is_taken_from_the_current_folder_when_the_file_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    here = _file(root / "work" / "sub" / "x.pdb")
    _file(root / "sub" / "x.pdb")  # the same relative path under the root: the shell user meant cwd
    monkeypatch.chdir(root / "work")
    assert resolve_input_file("sub/x.pdb", [root.resolve()]) == here


def test_a_relative_path_is_taken_from_a_root_when_the_current_folder_lacks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    wanted = _file(second / "x.pdb")
    monkeypatch.chdir(tmp_path)
    assert resolve_input_file("x.pdb", [first.resolve(), second.resolve()]) == wanted


def test_a_file_inside_the_roots_wins_over_one_of_the_same_name_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    _file(elsewhere / "x.pdb")
    inside = _file(root / "x.pdb")
    monkeypatch.chdir(elsewhere)
    assert resolve_input_file("x.pdb", [root.resolve()]) == inside


def test_a_file_only_outside_the_roots_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    _file(elsewhere / "x.pdb")
    monkeypatch.chdir(elsewhere)
    with pytest.raises(PathNotAllowedError, match="outside the folders"):
        resolve_input_file("x.pdb", [root.resolve()])


def test_a_missing_relative_file_is_reported_under_the_first_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist .*root"):
        resolve_input_file("nope.pdb", [(tmp_path / "root").resolve()])
