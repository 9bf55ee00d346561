"""langchain-tests 1.1.9 (pinned) standard suites, ToolsUnitTests and ToolsIntegrationTests, for every
LOGOS tool. The suites are classes by design, so the classes are generated here, one pair per tool;
the integration suites run the real demo model through the tool."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from logos_tools.langchain import LogosTool
from logos_tools.settings import Settings
from logos_tools.toolkit import TOOL_NAMES, Toolkit
from tests.langchain.suites import EXAMPLES, FIXTURES


class _LogosToolSuite:
    """What the standard suites ask of a tool: how to build it and a realistic call."""

    tool_name: ClassVar[str]
    _toolkit: Toolkit
    _job_id: str | None = None

    @pytest.fixture(autouse=True)
    def _use_shared_toolkit(self, shared_toolkit: Toolkit) -> None:
        self._toolkit = shared_toolkit

    @property
    def tool_constructor(self) -> type[LogosTool]:
        return LogosTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        # Errors raise here (agents get them as error messages by default): a failing call must fail the suite.
        return {"name": self.tool_name, "toolkit": self._toolkit, "handle_tool_error": False}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        if self.tool_name == "get_job":
            # The unit suites only check the schema; the integration suites poll a real finished job.
            return {"job_id": self._job_id or "j-0123456789ab"}
        return dict(EXAMPLES[self.tool_name])


class _UnitSuite(_LogosToolSuite):
    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        # Without a toolkit, a tool builds one from the LOGOS_* environment.
        env = {"LOGOS_TIME_BUDGET_S": "30", "LOGOS_ALLOWED_ROOTS": str(FIXTURES)}
        expected = dataclasses.replace(
            Settings.from_env(), time_budget_s=30.0, allowed_roots=(FIXTURES.resolve(),)
        )
        return env, {"name": self.tool_name}, {"settings": expected}


class _IntegrationSuite(_LogosToolSuite):
    @pytest.fixture(autouse=True)
    def _run_on_the_demo_model(self, demo_path: Path, request: pytest.FixtureRequest) -> None:
        if self.tool_name == "get_job":
            self._job_id = request.getfixturevalue("finished_job_id")


def _class_name(tool_name: str, suite: str) -> str:
    return "Test" + "".join(part.capitalize() for part in tool_name.split("_")) + suite


for _name in TOOL_NAMES:
    for _suite, _bases in (
        ("StandardUnit", (_UnitSuite, ToolsUnitTests)),
        ("StandardIntegration", (_IntegrationSuite, ToolsIntegrationTests)),
    ):
        _cls = type(_class_name(_name, _suite), _bases, {"tool_name": _name, "__module__": __name__})
        globals()[_cls.__name__] = _cls


def test_every_toolkit_tool_has_a_realistic_example_call(shared_toolkit: Toolkit) -> None:
    names = [method.__name__ for method in shared_toolkit.tools()]
    assert names, "the toolkit offers no tool"
    assert set(names) <= set(EXAMPLES), f"tools without an example call: {sorted(set(names) - set(EXAMPLES))}"
    assert set(TOOL_NAMES) <= set(EXAMPLES)
