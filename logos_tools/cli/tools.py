"""Every toolkit tool as a CLI command of the same name with dashes, built from its signature.

``logos design-ligands --structure-path 1hvr.pdb --ligand XK2 --json`` calls
``Toolkit.design_ligands(structure_path=..., ligand=...)``: options, types, ranges and help all come
from the tool's own annotations, so the CLI cannot drift from the MCP and LangChain tools. Values are
checked against those annotations while click parses them, so an error names the option (``--num-samples``)
rather than the Python argument.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from typing import Any

import annotated_types
import click
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from logos_tools.cli.output import emit
from logos_tools.errors import InputError
from logos_tools.tasks.common import TaskResult
from logos_tools.toolkit.names import TOOL_NAMES
from logos_tools.toolkit.rendering import render_text
from logos_tools.toolkit.toolkit import Toolkit

# Tools that make no sense in a one-shot process: jobs live in the process that started them, and a
# CLI call never leaves one running (see _stop_background_job). The command stays, hidden, to explain.
PROCESS_BOUND_TOOLS = {
    "get_job": (
        "Background jobs live only inside the process that started them (an MCP server or a Python "
        "program), and a `logos` command never leaves one running. Rerun the tool with a larger "
        "--time-budget-s for the complete result; stored results stay readable with "
        "`logos results show RESULT_ID`."
    )
}
# What an option means for a command run in a shell, beyond what the tool tells an agent.
CLI_NOTES = {
    "structure_path": (
        " Here: a file under the current folder or LOGOS_HOME, or under LOGOS_ALLOWED_ROOTS when it is set."
    )
}
JOB_STOP_WAIT_S = 10.0  # how long a command waits for a cancelled background job to stop


def command_name(tool_name: str) -> str:
    """``design_ligands`` -> ``design-ligands``."""
    return tool_name.replace("_", "-")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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


def _number_type(bare: Any, metadata: list[Any]) -> click.ParamType[Any, Any]:
    """INT or FLOAT, as a range when the Field has bounds (click then shows the range in --help)."""
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["min"] = item.ge
        elif isinstance(item, annotated_types.Gt):
            bounds.update(min=item.gt, min_open=True)
        elif isinstance(item, annotated_types.Le):
            bounds["max"] = item.le
        elif isinstance(item, annotated_types.Lt):
            bounds.update(max=item.lt, max_open=True)
    if bare is int:
        return click.IntRange(**bounds) if bounds else click.INT
    return click.FloatRange(**bounds) if bounds else click.FLOAT


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _checked_by(adapter: TypeAdapter[Any], what: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that validates a value against the tool's annotation; errors name the option."""

    def check(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is None or value == ():
            return value
        try:
            adapter.validate_python(list(value) if isinstance(value, tuple) else value)
        except ValidationError as exc:
            raise click.BadParameter(f"{value!r} breaks a rule: {_first_error(exc)}. {what}") from None
        return value

    return check


def _count_checked(flag: str, metadata: list[Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback for a repeatable option that enforces how often it may be given."""
    low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
    high = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)

    def check(_ctx: click.Context, _param: click.Parameter, values: Any) -> Any:
        count = len(values or ())
        if count and count < low:
            raise click.BadParameter(f"given {count} times; repeat {flag} at least {low} times.")
        if high is not None and count > high:
            raise click.BadParameter(f"given {count} times; at most {high} are allowed. Split the call.")
        return values

    return check


def _model_item(model: type[BaseModel], flag: str) -> Callable[[str], Any]:
    """Parse one value of a repeatable object option: JSON, or KIND:VALUE when the model has both."""
    shorthand = {"kind", "value"} <= set(model.model_fields)

    def parse(raw: str) -> Any:
        text = raw.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(
                    f"{raw!r} is not valid JSON ({exc.msg} at character {exc.pos}). "
                    f"""Write it as e.g. '{{"kind": "molecule", "value": "CCO"}}'."""
                    if shorthand
                    else f"{raw!r} is not valid JSON ({exc.msg} at character {exc.pos}).",
                    param_hint=flag,
                ) from None
        elif shorthand and ":" in text:
            kind, _, value = text.partition(":")
            data = {"kind": kind.strip(), "value": value}
        else:
            example = " Write KIND:VALUE, e.g. molecule:CCO, or a JSON object." if shorthand else ""
            raise click.BadParameter(f"{raw!r} is not a JSON object.{example}", param_hint=flag)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise click.BadParameter(
                f"{raw!r} breaks a rule: {_first_error(exc)}. Fix the object.", param_hint=flag
            ) from None

    return parse


def _option(
    name: str, parameter: inspect.Parameter, annotation: Any
) -> tuple[click.Parameter, Callable[[Any], Any]]:
    """A click option for one tool parameter, and a converter from the CLI value to the argument."""
    bare, field = _unwrap(annotation)
    bare = _without_none(bare)
    metadata = list(field.metadata) if field else []
    help_text = (field.description if field else None) or ""
    flag = _flag(name)
    required = parameter.default is inspect.Parameter.empty
    default = None if required else parameter.default
    origin = typing.get_origin(bare)
    if bare is bool:
        # A flag that is off unless given reads best alone (--lipinski, --no-pains); only a default-on
        # flag needs the --x/--no-x pair.
        decls = [flag] if not default else [f"{flag}/--no-{name.replace('_', '-')}"]
        option = click.Option(decls, is_flag=True, default=bool(default), help=help_text)
        return option, bool
    if origin in (list, tuple):
        (item,) = typing.get_args(bare)[:1]
        repeat = f" Repeat {flag} for each value."
        if isinstance(item, type) and issubclass(item, BaseModel):
            parse = _model_item(item, flag)
            if {"kind", "value"} <= set(item.model_fields):
                repeat = (
                    f" Each one as KIND:VALUE (e.g. molecule:CCO, protein:MKTAY, reaction:'CC.O>>CCO') or "
                    f"""as JSON (e.g. '{{"kind": "molecule", "value": "CCO"}}'); repeat {flag} for each."""
                )
            option = click.Option(
                [flag],
                multiple=True,
                required=required,
                help=help_text + repeat,
                callback=_count_checked(flag, metadata),
            )
            return option, lambda values: [parse(v) for v in values] if values else None
        item_type = click.INT if item is int else click.FLOAT if item is float else click.STRING
        option = click.Option(
            [flag],
            multiple=True,
            type=item_type,
            required=required,
            help=help_text + repeat,
            callback=_count_checked(flag, metadata),
        )
        return option, lambda values: list(values) if values else None
    if origin is typing.Literal:
        choice = click.Choice([str(v) for v in typing.get_args(bare)])
        option = click.Option(
            [flag],
            type=choice,
            default=default,
            required=required,
            help=help_text,
            show_default=default is not None,
        )
        return option, lambda v: v
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
    click_type: click.ParamType[Any, Any] = click.STRING
    callback = None
    if bare in (int, float):
        click_type = _number_type(bare, metadata)
    elif field is not None and metadata:
        shape: Any = typing.Annotated[bare, field]  # the tool's own constraints (e.g. max_length)
        constrained: TypeAdapter[Any] = TypeAdapter(shape)
        callback = _checked_by(constrained, "Pass a value within that limit.")
    option = click.Option(
        [flag],
        type=click_type,
        default=default,
        required=required,
        help=help_text,
        show_default=default is not None,
        callback=callback,
    )
    return option, lambda value: value


def _cli_help(text: str, names: set[str]) -> str:
    """Help text with references to arguments (``chain``, pocket_positions) written as the options a CLI
    user types (--chain, --pocket-positions)."""
    text = re.sub(r"``([^`]+)``", lambda m: _flag(m[1]) if m[1] in names else m[1], text)
    return re.sub(r"(?<![-\w])[a-z]+(?:_[a-z]+)+\b", lambda m: _flag(m[0]) if m[0] in names else m[0], text)


def _stop_background_job(toolkit: Toolkit, result: TaskResult, budget_s: float) -> str:
    """Cancel the job a time-budget cut started: it would die with this process anyway.

    Returns the line telling the user how to get the complete result instead.
    """
    job_id = result.job_id
    assert job_id is not None
    toolkit.jobs.cancel(job_id)
    status = toolkit.jobs.wait(job_id, JOB_STOP_WAIT_S)
    result.job_id = None
    if result.result_id:
        outputs = result.model_dump(mode="json", exclude={"model", "sampling", "result_id"})
        toolkit.store.update(result.result_id, outputs=outputs)
    if status.status == "complete" and status.result_id:
        return f"The complete run finished before this command exited: result id {status.result_id}."
    return (
        f"Rerun with a larger --time-budget-s (this run had {budget_s:g} s, at most 3600) for the complete "
        "result; a `logos` command does not keep running in the background."
    )


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
    for option in params:
        if isinstance(option, click.Option) and option.help:
            option.help = _cli_help(option.help, set(converters))
            if option.name in CLI_NOTES:
                option.help += CLI_NOTES[option.name]
    doc = _cli_help(inspect.getdoc(method) or tool_name, set(converters))
    unavailable = PROCESS_BOUND_TOOLS.get(tool_name)

    def callback(as_json: bool, **values: Any) -> None:
        if unavailable is not None:
            raise InputError(
                f"`logos {command_name(tool_name)}` cannot work from the command line. {unavailable}"
            )
        arguments = {name: converters[name](value) for name, value in values.items() if value is not None}
        toolkit = Toolkit()
        result = getattr(toolkit, tool_name)(**arguments)
        hint = ""
        if isinstance(result, TaskResult) and result.job_id:
            budget = arguments.get("time_budget_s", toolkit.settings.time_budget_s)
            hint = "\n" + _stop_background_job(toolkit, result, budget)
        emit(result, as_json=as_json, text=render_text(result) + hint)

    return click.Command(
        command_name(tool_name),
        params=params,
        callback=callback,
        help=doc,
        short_help=doc.splitlines()[0],
        hidden=unavailable is not None,
    )
