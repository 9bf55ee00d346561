"""``logos-mcp``: run the LOGOS MCP server over stdio (default) or streamable HTTP.

stdout carries the MCP protocol on stdio, so every log line goes to stderr.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from logos_tools.errors import LogosError
from logos_tools.settings import Settings

if TYPE_CHECKING:
    from logos_tools.toolkit.toolkit import Toolkit

logger = logging.getLogger(__name__)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def check_port(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """The port as an int (a click callback: click's own refusal of 'abc' speaks of an "integer range").

    Raises:
        click.BadParameter: not a whole number from 0 to 65535.
    """
    try:
        port = int(value.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise click.BadParameter(f"{value!r} is not a port number: pass 0 to 65535 (0 = any free port).")
    return port


def configure_logging(level: str) -> None:
    """Log to stderr only, one plain line per record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _preload(toolkit: Toolkit) -> None:
    """Open the model in the background so the first tool call does not pay for loading it."""
    try:
        _ = toolkit.backend
        logger.info("Model loaded.")
    except LogosError as exc:
        logger.error("Model not loaded: %s", exc)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a local host that starts the server; http to serve streamable HTTP at /mcp.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to bind.")
@click.option(
    "--port",
    default="8765",
    show_default=True,
    type=str,
    callback=check_port,
    metavar="PORT",
    help="HTTP: port (0 = any free).",
)
@click.option(
    "--model", default=None, help="Registered model name or GGUF path (default: LOGOS_MODEL, else the demo)."
)
@click.option(
    "--token", default=None, help="HTTP: bearer token clients must send (default: LOGOS_MCP_TOKEN)."
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    help="HTTP: another Host name clients use to reach the server (repeatable).",
)
@click.option(
    "--images/--no-images",
    default=None,
    help="Attach PNG grids of molecules to results (default: LOGOS_MCP_IMAGES, else on).",
)
@click.option("--preload", is_flag=True, help="Load the model in the background right after start.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Least severe log records shown (always on stderr).",
)
def serve(
    transport: str,
    host: str,
    port: int,
    model: str | None,
    token: str | None,
    allowed_hosts: tuple[str, ...],
    images: bool | None,
    preload: bool,
    log_level: str,
) -> None:
    """Serve the LOGOS tools over MCP. Tools list at once; the model loads on the first call."""
    configure_logging(log_level.upper())
    try:
        settings = Settings.from_env()
        if model:
            settings = dataclasses.replace(settings, model=model)
        token = token or settings.mcp_token
        if transport == "http":
            from logos_tools.mcp_server.transport import check_binding

            check_binding(host, token)  # before anything heavy: a refused start should be instant
        from logos_tools.mcp_server.server import build_server
        from logos_tools.toolkit.toolkit import Toolkit

        toolkit = Toolkit(settings)
        server = build_server(toolkit, images=images)
        logger.info("LOGOS MCP server: model %r, %s transport.", settings.model, transport)
        if preload:
            threading.Thread(target=_preload, args=(toolkit,), name="logos-preload", daemon=True).start()
        if transport == "stdio":
            from logos_tools.mcp_server.transport import serve_stdio

            serve_stdio(server)
        else:
            from logos_tools.mcp_server.transport import serve_http

            serve_http(
                server, host=host, port=port, token=token, allowed_hosts=allowed_hosts, log_level=log_level
            )
    except LogosError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``logos-mcp`` console script.

    A bad option is one line on stderr (``error: ...``, status 2) instead of click's usage block: a host
    that starts the server shows only the last line of its stderr. Ctrl-C while starting exits quietly.
    """
    try:
        serve.main(
            args=list(argv) if argv is not None else None, prog_name="logos-mcp", standalone_mode=False
        )
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()} See logos-mcp --help.", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        sys.exit(0)
