"""Every toolkit tool as a CLI command of the same name with dashes, built from its signature.

``logos design-ligands --structure-path 1hvr.pdb --ligand XK2 --json`` calls
``Toolkit.design_ligands(structure_path=..., ligand=...)``: options, types, ranges and help all come
from the tool's own annotations, so the CLI cannot drift from the MCP and LangChain tools.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

import click
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from logos_tools.cli.output import emit
from logos_tools.errors import InputError
from logos_tools.toolkit.names import TOOL_NAMES
from logos_tools.toolkit.rendering import render_text
from logos_tools.toolkit.toolkit import Toolkit


def command_name(tool_name: str) -> str:
    """``design_ligands`` -> ``design-ligands``."""
    return tool_name.replace("_", "-")


def _unwrap(annotation: Any) -> tuple[Any, FieldInfo | None]:
    """The bare type and the pydantic Field of an ``Annotated[...]`` parameter."""
    field = None
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        field = next((e for e in extras if isinstance(e, FieldInfo)), None)
        annotation = base
    return annotation, field


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _option(
    name: str, parameter: inspect.Parameter, annotation: Any
) -> tuple[click.Parameter, Callable[[Any], Any]]:
    """A click option for one tool parameter, and a converter from the CLI value to the argument."""
    bare, field = _unwrap(annotation)
    bare = _without_none(bare)
    help_text = (field.description if field else None) or ""
    flag = "--" + name.replace("_", "-")
    required = parameter.default is inspect.Parameter.empty
    default = None if required else parameter.default
    origin = typing.get_origin(bare)
    if bare is bool:
        return click.Option(
            [f"{flag}/--no-{name.replace('_', '-')}"], default=bool(default), help=help_text
        ), bool
    if origin in (list, tuple):
        (item,) = typing.get_args(bare)[:1]
        click_type = click.INT if item is int else click.FLOAT if item is float else click.STRING
        option = click.Option(
            [flag], multiple=True, type=click_type, required=required, help=help_text + " (repeatable)"
        )
        return option, lambda values: list(values) if values else None
    if origin is typing.Literal:
        choice = click.Choice([str(v) for v in typing.get_args(bare)])
        return click.Option(
            [flag], type=choice, default=default, required=required, help=help_text
        ), lambda v: v
    if (isinstance(bare, type) and issubclass(bare, BaseModel)) or origin is not None:
        adapter: TypeAdapter[Any] = TypeAdapter(bare)
        option = click.Option([flag], default=None, required=required, help=help_text + " (JSON)")

        def parse_json(value: Any) -> Any:
            if value is None:
                return None
            try:
                return adapter.validate_json(value)
            except ValidationError as exc:
                raise InputError(
                    f"{flag} {value!r} is not valid JSON for this option: {exc.errors()[0]['msg']}."
                ) from None

        return option, parse_json
    click_type = click.INT if bare is int else click.FLOAT if bare is float else click.STRING
    shown_default = default if default is not None else None
    option = click.Option(
        [flag],
        type=click_type,
        default=shown_default,
        required=required,
        help=help_text,
        show_default=shown_default is not None,
    )
    return option, lambda value: value


def build_command(tool_name: str) -> click.Command:
    """The click command for ``tool_name``.

    Raises:
        KeyError: no tool has that name.
    """
    if tool_name not in TOOL_NAMES:
        raise KeyError(tool_name)
    method = getattr(Toolkit, tool_name)
    hints = typing.get_type_hints(method, include_extras=True)
    converters: dict[str, Callable[[Any], Any]] = {}
    params: list[click.Parameter] = []
    for name, parameter in inspect.signature(method).parameters.items():
        if name == "self":
            continue
        option, convert = _option(name, parameter, hints[name])
        params.append(option)
        converters[name] = convert
    params.append(click.Option(["--json", "as_json"], is_flag=True, help="Print the full result as JSON."))
    doc = inspect.getdoc(method) or tool_name

    def callback(as_json: bool, **values: Any) -> None:
        arguments = {name: converters[name](value) for name, value in values.items() if value is not None}
        result = getattr(Toolkit(), tool_name)(**arguments)
        emit(result, as_json=as_json, text=render_text(result))

    return click.Command(
        command_name(tool_name), params=params, callback=callback, help=doc, short_help=doc.splitlines()[0]
    )
