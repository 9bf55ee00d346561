"""The toolkit: every LOGOS tool defined once, adapted by the CLI, MCP server and LangChain.

``Toolkit`` is imported on first access so that importing the tool names stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logos_tools.toolkit.names import TOOL_NAMES

if TYPE_CHECKING:
    from logos_tools.toolkit.toolkit import Toolkit

__all__ = ["TOOL_NAMES", "Toolkit"]


def __getattr__(name: str) -> Any:
    if name == "Toolkit":
        from logos_tools.toolkit.toolkit import Toolkit

        return Toolkit
    raise AttributeError(name)
