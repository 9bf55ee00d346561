"""Every LOGOS tool as LangChain tools over one toolkit: one loaded model, one results store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit, ToolException
from langchain_core.tools.base import ToolExceptionHandlerOutput
from pydantic import ConfigDict, Field, PrivateAttr

from logos_tools.errors import InputError
from logos_tools.langchain.tool import LogosTool
from logos_tools.settings import Settings
from logos_tools.toolkit import Toolkit

ErrorHandling = bool | str | Callable[[ToolException], ToolExceptionHandlerOutput] | None


class LogosToolkit(BaseToolkit):
    """The LOGOS tools for a LangChain or LangGraph agent.

    ``LogosToolkit().get_tools()`` gives one ``LogosTool`` per toolkit method, all sharing one
    ``Toolkit`` (so the model loads once, on the first call). Pass ``toolkit=`` to share one that
    other code uses too, or ``settings=`` to configure a new one (default: the ``LOGOS_*``
    environment). ``tools=`` keeps only the named tools. ``handle_tool_error`` is given to every
    tool: False (default, LangChain's convention) makes ``invoke`` raise ``ToolException`` with the
    same message the MCP server gives; True turns errors into ``ToolMessage(status="error")`` that an
    agent can act on (what a LangGraph agent usually wants: see examples/design_loop.py).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    toolkit: Toolkit = Field(exclude=True, repr=False)
    tool_names: tuple[str, ...]
    handle_tool_error: ErrorHandling = False
    _tools: list[BaseTool] | None = PrivateAttr(default=None)

    def __init__(
        self,
        toolkit: Toolkit | None = None,
        *,
        settings: Settings | None = None,
        tools: Sequence[str] | None = None,
        handle_tool_error: ErrorHandling = False,
    ) -> None:
        """Build the toolkit; no model is loaded until a tool runs.

        Raises:
            InputError: both ``toolkit`` and ``settings`` were given, or ``tools`` names an unknown tool.
        """
        if toolkit is not None and settings is not None:
            raise InputError(
                "Pass either toolkit= (an existing Toolkit, which has its own settings) or settings=, "
                "not both."
            )
        shared = toolkit if toolkit is not None else Toolkit(settings)
        available = [method.__name__ for method in shared.tools()]
        chosen = tuple(available if tools is None else tools)
        unknown = [name for name in chosen if name not in available]
        if unknown:
            raise InputError(
                f"tools={list(chosen)!r} names unknown tools {unknown!r}. Use names from: {', '.join(available)}."
            )
        fields: dict[str, Any] = {
            "toolkit": shared,
            "tool_names": chosen,
            "handle_tool_error": handle_tool_error,
        }
        super().__init__(**fields)  # pydantic's field-derived __init__ knows only BaseToolkit's (no) fields

    def get_tools(self) -> list[BaseTool]:
        """The tools, in the toolkit's order (the same objects on every call)."""
        if self._tools is None:
            self._tools = [
                LogosTool(name, self.toolkit, handle_tool_error=self.handle_tool_error)
                for name in self.tool_names
            ]
        return list(self._tools)

    def close(self) -> None:
        """Cancel the background jobs of calls cut by their time budget (``Toolkit.close``)."""
        self.toolkit.close()

    def get_tool(self, name: str) -> LogosTool:
        """The tool called ``name``.

        Raises:
            InputError: no tool of this toolkit has that name.
        """
        for tool in self.get_tools():
            if tool.name == name and isinstance(tool, LogosTool):
                return tool
        raise InputError(f"No tool {name!r} in this toolkit. Its tools: {', '.join(self.tool_names)}.")
