"""One wording of errors for every adapter: MCP, LangChain and the CLI say the same thing."""

from __future__ import annotations

from logos_tools.errors import LogosError


def agent_message(exc: BaseException, tool_name: str) -> str:
    """The text an agent (or a person) reads when ``tool_name`` fails with ``exc``.

    Our own errors already name the bad value, the rule and the fix. Anything else is a bug: say so
    plainly rather than pretend the input was wrong.
    """
    if isinstance(exc, LogosError):
        return str(exc)
    return (
        f"Internal error in tool {tool_name}: {type(exc).__name__}: {exc}. This is a bug in logos-tools, "
        "not a problem with your input; the server keeps running. Retry, or report it with these arguments."
    )
