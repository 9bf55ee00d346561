"""The demo-model recipe (gguf/recipes/build_demo.py), run end to end as a subprocess: --smoke mode."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from logos_tools.grammar.blocks import parse_blocks
from logos_tools.grammar.profile import Profile
from tests.demo_model import DEMO_HF_FILES

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "gguf" / "recipes" / "build_demo.py"
SHIPPED = REPO / "gguf" / "demo"


def _shipped_state() -> dict[str, str]:
    return {
        path.relative_to(SHIPPED).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(SHIPPED.rglob("*"))
        if path.is_file()
    }


class SmokeRuns(NamedTuple):
    first: dict[str, Any]
    second: dict[str, Any]
    shipped_before: dict[str, str]
    shipped_after: dict[str, str]


def _smoke(out: Path, *extra: str) -> dict[str, Any]:
    record = out / "record.json"
    result = subprocess.run(
        [sys.executable, str(RECIPE), "--smoke", "--out", str(out / "demo"), "--record", str(record), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> SmokeRuns:
    before = _shipped_state()
    first = _smoke(tmp_path_factory.mktemp("smoke-a"))
    second = _smoke(tmp_path_factory.mktemp("smoke-b"), "--no-quality")
    return SmokeRuns(first, second, before, _shipped_state())


@pytest.mark.slow
def test_the_smoke_build_writes_the_checkpoint_and_both_ggufs_into_its_own_folder(
    smoke_runs: SmokeRuns,
) -> None:
    record = smoke_runs.first
    files = record["files"]
    assert set(files) == {f"hf/{name}" for name in DEMO_HF_FILES} | {
        "logos-demo-f16.gguf",
        "logos-demo-q8_0.gguf",
    }
    assert all(entry["size"] > 0 for entry in files.values())
    assert files["logos-demo-q8_0.gguf"]["size"] < files["logos-demo-f16.gguf"]["size"]
    assert record["smoke"] is True


@pytest.mark.slow
def test_the_smoke_build_never_touches_the_shipped_demo_files(
    smoke_runs: SmokeRuns,
) -> None:
    assert smoke_runs.shipped_before == smoke_runs.shipped_after


@pytest.mark.slow
def test_the_smoke_model_passes_verification_and_the_q8_0_file_generates_a_molecule_block(
    smoke_runs: SmokeRuns, profile: Profile
) -> None:
    record = smoke_runs.first
    verification = record["verification"]
    assert set(verification) == {"f16", "q8_0"}
    assert "tokenize identically" in verification["f16"]["tokenizer_parity"]
    sample = record["q8_0_sample"]
    assert parse_blocks(sample, profile).blocks[0].kind == "molecule"
    tag_ids = record["tokenizer"]["tag_ids"]
    assert set(tag_ids) == set(profile.all_tags())
    assert len(set(tag_ids.values())) == len(profile.all_tags())


@pytest.mark.slow
def test_the_smoke_build_measures_every_quality_figure(
    smoke_runs: SmokeRuns,
) -> None:
    quality = smoke_runs.first["quality"]
    for key in (
        "molecules_t1.2",
        "molecules_t0.8",
        "retrosynthesis",
        "forward_reaction",
        "binding_site",
        "ligand_design",
        "materials",
        "q8_0_molecules_t1.2",
    ):
        assert key in quality
    assert quality["molecules_t1.2"]["samples"] > 0
    assert quality["binding_site"]["answers"] > 0


@pytest.mark.slow
def test_two_smoke_builds_with_the_same_seed_give_identical_files(
    smoke_runs: SmokeRuns,
) -> None:
    first, second = smoke_runs.first["files"], smoke_runs.second["files"]
    for name in ("hf/model.safetensors", "hf/tokenizer.json", "logos-demo-f16.gguf", "logos-demo-q8_0.gguf"):
        assert first[name]["sha256"] == second[name]["sha256"], name


def test_a_smoke_build_refuses_to_write_into_the_shipped_demo_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(RECIPE), "--smoke", "--out", str(SHIPPED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--smoke must not write into" in result.stderr
