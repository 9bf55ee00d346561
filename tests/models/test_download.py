from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logos_tools.errors import InputError
from logos_tools.models.download import pull_checkpoint


def test_pull_fails_clearly_when_offline(isolated_home: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LOGOS_HOME": str(isolated_home)}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from logos_tools.cli.main import cli; cli()",
            "model",
            "pull",
            "LOGOS-pretrain-1B",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "Cannot download LOGOS-Hub/LOGOS-pretrain-1B: offline mode is on (HF_HUB_OFFLINE=1)" in result.stderr
    )
    assert "logos model convert" in result.stderr
    assert not (isolated_home / "models").exists()  # nothing written, not even an empty folder


@pytest.mark.parametrize("repo_id", ["LOGOS-8B", "a/b/c", "/name"])
def test_pull_refuses_ids_that_are_not_owner_slash_name(repo_id: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="owner/name"):
        pull_checkpoint(repo_id, tmp_path)
