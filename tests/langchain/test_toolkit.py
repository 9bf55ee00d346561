from __future__ import annotations

import inspect
import threading
from pathlib import Path

import pytest
from langchain_core.tools import BaseToolkit
from langchain_core.utils.function_calling import convert_to_openai_tool

from logos_tools.errors import InputError
from logos_tools.langchain import LogosTool, LogosToolkit
from logos_tools.runtime.base import CancelToken
from logos_tools.settings import Settings
from logos_tools.toolkit import Toolkit


def test_get_tools_gives_one_tool_per_toolkit_method_all_sharing_one_toolkit(shared_toolkit: Toolkit) -> None:
    toolkit = LogosToolkit(shared_toolkit)
    tools = toolkit.get_tools()
    assert isinstance(toolkit, BaseToolkit)
    assert [tool.name for tool in tools] == [method.__name__ for method in shared_toolkit.tools()]
    assert all(isinstance(tool, LogosTool) and tool.toolkit is shared_toolkit for tool in tools)
    assert all(tool.response_format == "content_and_artifact" for tool in tools)


def test_get_tools_returns_the_same_tool_objects_each_time(shared_toolkit: Toolkit) -> None:
    toolkit = LogosToolkit(shared_toolkit)
    first, second = toolkit.get_tools(), toolkit.get_tools()
    assert first == second
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_settings_configure_the_one_new_toolkit_of_all_tools(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, time_budget_s=12.0)
    tools = [tool for tool in LogosToolkit(settings=settings).get_tools() if isinstance(tool, LogosTool)]
    assert len(tools) == len(Toolkit(settings).tools())
    assert len({id(tool.toolkit) for tool in tools}) == 1
    assert tools[0].settings is settings


def test_tools_keeps_only_the_named_tools_in_the_given_order(shared_toolkit: Toolkit) -> None:
    tools = LogosToolkit(shared_toolkit, tools=["retrosynthesis", "design_ligands"]).get_tools()
    assert [tool.name for tool in tools] == ["retrosynthesis", "design_ligands"]


def test_an_unknown_tool_name_is_an_input_error_naming_it(shared_toolkit: Toolkit) -> None:
    with pytest.raises(
        InputError, match=r"unknown tools \['design_ligand'\]. Use names from: retrosynthesis"
    ):
        LogosToolkit(shared_toolkit, tools=["design_ligand"])


def test_toolkit_and_settings_together_are_rejected(shared_toolkit: Toolkit, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"either toolkit= .* or settings=, not both"):
        LogosToolkit(shared_toolkit, settings=Settings(home=tmp_path))


def test_get_tool_finds_a_tool_by_name_or_says_which_exist(shared_toolkit: Toolkit) -> None:
    toolkit = LogosToolkit(shared_toolkit, tools=["retrosynthesis"])
    assert toolkit.get_tool("retrosynthesis").name == "retrosynthesis"
    with pytest.raises(
        InputError, match=r"No tool .design_ligands. in this toolkit\. Its tools: retrosynthesis"
    ):
        toolkit.get_tool("design_ligands")


def test_handle_tool_error_is_given_to_every_tool(shared_toolkit: Toolkit) -> None:
    assert all(tool.handle_tool_error is False for tool in LogosToolkit(shared_toolkit).get_tools())
    forgiving = LogosToolkit(shared_toolkit, handle_tool_error=True).get_tools()
    assert all(tool.handle_tool_error is True for tool in forgiving)


def test_every_tool_converts_to_the_function_schema_chat_models_receive(shared_toolkit: Toolkit) -> None:
    for tool in LogosToolkit(shared_toolkit).get_tools():
        function = convert_to_openai_tool(tool)["function"]
        assert function["name"] == tool.name
        assert function["description"] == tool.description
        method = getattr(shared_toolkit, tool.name)
        assert list(function["parameters"].get("properties", {})) == list(
            inspect.signature(method).parameters
        )


def test_closing_the_langchain_toolkit_cancels_the_background_jobs_of_its_toolkit(tmp_path: Path) -> None:
    toolkit = Toolkit(Settings(home=tmp_path))
    lc = LogosToolkit(toolkit=toolkit)
    started = threading.Event()

    def work(_progress: object, cancel: CancelToken) -> tuple[str | None, dict[str, object]]:
        started.set()
        tick = threading.Event()  # never set: its timed wait paces the loop like decode steps
        while not cancel.cancelled:
            tick.wait(0.01)
        cancel.raise_if_cancelled()
        return None, {}

    job_id = toolkit.jobs.start("retrosynthesis", work)
    assert started.wait(30)
    lc.close()
    assert toolkit.get_job(job_id).status == "cancelled"
