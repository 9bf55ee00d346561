"""``logos demo``, the README's main job, runs end to end on the demo model and stores what it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

LOGOS = Path(sys.executable).parent / "logos"


def _logos(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOGOS_HOME": str(home), "LOGOS_THREADS": "1"}
    return subprocess.run(
        [str(LOGOS), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_the_demo_runs_the_design_loop_and_every_result_it_prints_is_stored(tmp_path: Path) -> None:
    done = _logos(tmp_path, "demo", "--seed", "7")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for title in ("1. Binding sites", "2. Drug-like ligands", "3. Retrosynthesis", "4. Metal-organic"):
        assert title in out
    assert "Filters {" in out
    assert '"min_qed": 0.5' in out
    # The retrosynthesis target is the highest-QED molecule among those that passed the filters.
    picked = re.search(r"most drug-like ligand (\S+) \(QED (\d\.\d\d)\)", out)
    assert picked is not None
    passed = out.split("Filters {", 1)[1].split("Valid molecules rejected", 1)[0].split("Samples:", 1)[0]
    qeds = [float(q) for q in re.findall(r"QED (\d\.\d\d)", passed)]
    assert qeds
    assert float(picked.group(2)) == max(qeds) >= 0.5
    assert out.count("DEMO MODEL") == 4  # every result says it came from the demo model

    printed = re.findall(r"Result id: (r-[0-9a-f]+)", out)
    assert len(printed) == 4
    listed = _logos(tmp_path, "results", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    stored = json.loads(listed.stdout)
    assert {row["id"] for row in stored} == set(printed)
    assert {row["tool"] for row in stored} == {
        "find_binding_sites",
        "design_ligands",
        "retrosynthesis",
        "generate_mofs",
    }
