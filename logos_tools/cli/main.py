"""The ``logos`` command: a lazy group whose subcommands load only when called."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from logos_tools import __version__
from logos_tools.errors import InputError, LogosError
from logos_tools.toolkit.names import TOOL_NAMES

# name -> "module:attribute". Subcommands import their heavy dependencies only when invoked,
# so `logos --help` stays fast.
SUBCOMMANDS: dict[str, str] = {
    "grammar": "logos_tools.cli.grammar:grammar",
    "model": "logos_tools.cli.model:model",
    "results": "logos_tools.cli.results:results",
    "doctor": "logos_tools.cli.doctor:doctor",
    "demo": "logos_tools.cli.demo:demo",
}


# Every toolkit tool is also a command of the same name with dashes (built from its signature).
TOOL_COMMANDS = {name.replace("_", "-"): name for name in TOOL_NAMES}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *SUBCOMMANDS, *TOOL_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in TOOL_COMMANDS:
            from logos_tools.cli.tools import build_command

            return build_command(TOOL_COMMANDS[cmd_name])
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except LogosError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logos")
@click.option("-v", "--verbose", count=True, help="Log more to stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """LOGOS scientific language model tools: grammar, models, tasks and servers.

    \b
    Examples:
      logos grammar encode molecule 'OC(=O)c1ccccc1OC(C)=O' --json
      logos grammar decode '<MoleculeS>CCO<MoleculeE>'
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
