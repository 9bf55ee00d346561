"""``diagnose``: the doctor report reflects the installed build, libraries and the user's models."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import llama_cpp

from logos_tools.runtime.diagnostics import diagnose
from logos_tools.settings import Settings


def test_the_report_matches_the_installed_llama_cpp_build_and_libraries() -> None:
    report = diagnose()
    assert report.llama.installed
    assert report.llama.version == importlib.metadata.version("llama-cpp-python")
    assert report.llama.gpu_offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert not {"OPENMP", "LLAMAFILE", "REPACK"} & set(report.llama.cpu_features)
    assert report.libraries["numpy"] == importlib.metadata.version("numpy")
    assert report.models is None  # not inspected without settings, rather than an empty list


def test_with_settings_the_report_lists_the_demo_and_registered_models(isolated_home: Path) -> None:
    report = diagnose(Settings(home=isolated_home))
    assert report.models is not None
    names = {row["name"]: row for row in report.models}
    assert names["demo"]["kind"] == "demo"
    assert all(row["kind"] != "registered" for row in report.models)


def test_a_damaged_registry_is_a_note_not_a_crash(isolated_home: Path) -> None:
    settings = Settings(home=isolated_home)
    settings.registry_path.parent.mkdir(parents=True, exist_ok=True)
    settings.registry_path.write_text("{broken", encoding="utf-8")
    report = diagnose(settings)
    assert report.models == []
    assert any("models.json is damaged" in note for note in report.notes)


def test_the_openai_backend_is_named_with_its_url(isolated_home: Path) -> None:
    settings = Settings(home=isolated_home, backend="openai", openai_base_url="http://gpu:8000/v1")
    report = diagnose(settings)
    assert any("http://gpu:8000/v1" in note for note in report.notes)
