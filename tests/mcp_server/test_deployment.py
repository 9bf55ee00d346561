"""The deployable pieces in mcp_server/: measurement gate, host configs, bundle manifest, README."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import logos_tools.settings
from logos_tools.toolkit import TOOL_NAMES

DEPLOY = Path(__file__).parents[2] / "mcp_server"
TOKEN_BUDGET = 6000


def test_tools_list_fits_the_context_budget(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "measure_tools.py"), "--max-tokens", str(TOKEN_BUDGET)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("LOGOS_")}
        | {"LOGOS_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    total = done.stdout.splitlines()[-1]
    assert total.startswith("tools/list")
    assert f"({len(TOOL_NAMES)} tools)" in total


def test_the_bundle_manifest_launches_logos_mcp_with_real_settings() -> None:
    manifest = json.loads((DEPLOY / "manifest.json").read_text(encoding="utf-8"))
    server = manifest["server"]
    assert (server["type"], server["entry_point"]) == ("uv", "server.py")
    assert (DEPLOY / server["entry_point"]).read_text(encoding="utf-8").count("main()") == 1
    documented = logos_tools.settings.__doc__ or ""
    for variable, value in server["mcp_config"]["env"].items():
        assert f"``{variable}``" in documented, f"{variable} is not a setting"
        assert value.removeprefix("${user_config.").removesuffix("}") in manifest["user_config"]


def test_the_claude_desktop_example_runs_logos_mcp() -> None:
    config = json.loads((DEPLOY / "claude_desktop_config.json").read_text(encoding="utf-8"))
    assert config["mcpServers"]["logos"]["command"].endswith("/logos-mcp")


def test_the_readme_names_every_tool_and_the_claude_code_line() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "claude mcp add logos -- logos-mcp" in readme
    assert all(f"`{tool}`" in readme for tool in TOOL_NAMES)
