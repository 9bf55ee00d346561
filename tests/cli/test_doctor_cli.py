"""``logos doctor``: the llama.cpp build, libraries and the models this installation can use."""

from __future__ import annotations

import json

from click.testing import CliRunner

from logos_tools.cli.main import cli


def test_doctor_json_lists_the_build_and_the_usable_models() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["llama"]["version"]
    assert "OPENMP" not in report["llama"]["cpu_features"]  # build options are listed apart
    names = {model["name"] for model in report["models"]}
    assert {"demo", "demo-q8_0", "LOGOS-pretrain-1B"} <= names
    text = CliRunner().invoke(cli, ["doctor"]).stdout
    assert "Models:" in text
    assert "Build llama.cpp for a GPU:" in text
