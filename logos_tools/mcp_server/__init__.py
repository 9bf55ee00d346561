"""The LOGOS MCP server (``logos-mcp``): the toolkit's tools, resources and prompts for MCP hosts.

Importing this package is cheap: the MCP SDK, the toolkit and the model load only when ``main`` runs
or ``build_server`` is called (``from logos_tools.mcp_server.server import build_server``).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``logos-mcp`` (see ``logos-mcp --help``)."""
    from logos_tools.mcp_server.cli import main as run

    run(argv)


__all__ = ["main"]
