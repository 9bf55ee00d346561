"""The toolkit: every LOGOS tool defined once, adapted by the CLI, MCP server and LangChain."""

from logos_tools.toolkit.toolkit import TOOL_NAMES, Toolkit

__all__ = ["TOOL_NAMES", "Toolkit"]
