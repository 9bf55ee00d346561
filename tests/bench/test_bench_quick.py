"""bench/run.py end to end on the demo model in a subprocess, so CI keeps the benchmark script working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.py"
ROW_KEYS = {
    "model": str,
    "task": str,
    "n": int,
    "path": str,
    "samples_per_s": float,
    "tokens_per_s": float,
    "seconds": float,
    "generated_tokens": int,
    "prompt_tokens": int,
}


def _run_bench(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )


def _check_row(row: dict[str, Any]) -> None:
    for key, kind in ROW_KEYS.items():
        assert isinstance(row[key], kind), f"{key}={row[key]!r} in {row}"
    assert row["samples_per_s"] > 0
    assert row["tokens_per_s"] > 0
    for key in ("validity", "uniqueness"):
        assert key in row
        assert row[key] is None or 0.0 <= row[key] <= 1.0


def test_the_smallest_benchmark_run_writes_a_table_and_rows_of_the_documented_schema(
    tmp_path: Path, demo_path: Path
) -> None:
    done = _run_bench(
        tmp_path, "--only", "demo,retrosynthesis,logos,floor", "--n", "2", "--demo-gguf", str(demo_path)
    )
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 1
    assert report["machine"]["cores"] >= 1
    assert report["machine"]["versions"]["llama-cpp-python"]
    assert report["errors"] == []
    rows = report["rows"]
    assert {(r["model"], r["task"], r["n"], r["path"]) for r in rows} == {
        ("demo", "retrosynthesis", 2, "logos"),
        ("demo", "retrosynthesis", 2, "floor"),
    }
    for row in rows:
        _check_row(row)
    logos = next(r for r in rows if r["path"] == "logos")
    floor = next(r for r in rows if r["path"] == "floor")
    assert isinstance(logos["validity"], float)  # the demo model's samples are judged
    assert floor["validity"] is None  # the floor samples nothing
    # The floor replays exactly the tokens our runtime generated.
    assert floor["generated_tokens"] == logos["generated_tokens"]
    assert floor["prompt_tokens"] == logos["prompt_tokens"] > 5
    assert [m["path"] for m in report["memory"]] == ["logos"]
    assert report["memory"][0]["rss_peak_during_call_mb"] >= report["memory"][0]["rss_before_load_mb"] > 0
    statuses = {t["target"]: t["status"] for t in report["targets"]}
    assert statuses["ligand N=32 vs reference"] == "n/a"  # the 1B shape was not part of this run

    table = (tmp_path / "latest.txt").read_text(encoding="utf-8")
    assert "demo" in table
    assert "retro" in table
    assert table == done.stdout


def test_an_unknown_only_name_is_refused_with_the_names_that_exist(tmp_path: Path) -> None:
    done = _run_bench(tmp_path, "--only", "demo,retro")
    assert done.returncode != 0
    assert "'retro' is not a model, task, path or section" in done.stderr
    assert "retrosynthesis" in done.stderr
    assert not (tmp_path / "latest.json").exists()
