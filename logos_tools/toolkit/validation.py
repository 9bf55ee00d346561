"""Argument validation for tool methods: pydantic checks every call, errors become InputError.

Pydantic's lax mode reads ``true`` as the number 1 and ``"yes"`` as true. An agent that sends
``num_samples: true`` or ``lipinski: "yes"`` has made a mistake worth reporting, so the tool wrapper
validates against a stricter copy of the annotations: numbers refuse booleans, booleans take only
true or false. Everything else stays lax (an integer is a fine float, ``4.0`` a fine integer).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from pydantic import BeforeValidator, ConfigDict, ValidationError, validate_call
from pydantic_core import PydanticCustomError

from logos_tools.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per bad argument: which, what was given, which rule, how to fix."""
    parts = []
    for error in exc.errors(include_url=False):
        where = _where(error["loc"])
        if error["type"] in ("missing_argument", "missing"):
            parts.append(f"{where} is required but was not given")
            continue
        if error["type"] == "unexpected_keyword_argument":
            parts.append(f"{where} is not an argument of this tool")
            continue
        given = error.get("input")
        shown = repr(given) if not isinstance(given, dict) else "an object"
        parts.append(f"{where}={shown}: {error['msg']}")
    return "Invalid arguments: " + "; ".join(parts) + ". Fix these values and call again."


def _where(loc: tuple[int | str, ...]) -> str:
    """The argument path as an agent wrote it; an empty name is quoted so the sentence still reads."""
    if not loc:
        return "arguments"
    return ".".join(repr(part) if part == "" else str(part) for part in loc)


def _refusing_booleans(what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(
                "number_not_boolean",
                "Input should be {what}, not true or false (a boolean)",
                {"what": what},
            )
        return value

    return check


_NUMBER_CHECKS = {int: _refusing_booleans("an integer"), float: _refusing_booleans("a number")}


def _only_boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        kind = (
            "a string" if isinstance(value, str) else "a number" if isinstance(value, (int, float)) else None
        )
        raise PydanticCustomError(
            "boolean_strict",
            "Input should be true or false (a JSON boolean), not {kind}",
            {"kind": kind or f"a {type(value).__name__}"},
        )
    return value


def strict_scalars(annotation: Any) -> Any:
    """``annotation`` with its int and float parts refusing booleans and its bool parts refusing
    anything but True and False; unions, lists and ``Annotated`` metadata are rewritten inside."""
    if annotation is bool:
        return Annotated[bool, BeforeValidator(_only_boolean)]
    if annotation in _NUMBER_CHECKS:
        return Annotated[annotation, BeforeValidator(_NUMBER_CHECKS[annotation])]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = typing.get_args(annotation)
        rewritten = (strict_scalars(inner), *metadata)
        return Annotated[rewritten]
    if origin in (typing.Union, types.UnionType):
        members = tuple(strict_scalars(member) for member in typing.get_args(annotation))
        return typing.Union[members]  # noqa: UP007  # a runtime-built union needs the subscript form
    if origin is list:
        (item,) = typing.get_args(annotation)
        return list[strict_scalars(item)]  # type: ignore[misc]
    return annotation


def _with_strict_annotations(method: Callable[..., Any]) -> Callable[..., Any]:
    """A twin of ``method`` (same code, defaults and name) whose annotations are ``strict_scalars``."""
    if not isinstance(method, types.FunctionType):
        return method
    hints = typing.get_type_hints(method, include_extras=True)
    twin = types.FunctionType(
        method.__code__, method.__globals__, method.__name__, method.__defaults__, method.__closure__
    )
    twin.__kwdefaults__ = method.__kwdefaults__
    twin.__qualname__ = method.__qualname__
    twin.__module__ = method.__module__
    twin.__annotations__ = {name: strict_scalars(hint) for name, hint in hints.items()}
    return twin


def tool(method: Callable[P, R]) -> Callable[P, R]:
    """Validate a tool method's arguments against its annotations on every call.

    Numbers refuse booleans and booleans refuse strings and numbers (see the module docstring).

    Raises (from the wrapped method):
        InputError: an argument breaks its type or range; the message names each one.
    """
    config = ConfigDict(arbitrary_types_allowed=True)
    validated: Callable[..., Any] = validate_call(config=config)(_with_strict_annotations(method))

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result: R = validated(*args, **kwargs)
        except ValidationError as exc:
            if exc.title not in (method.__name__, method.__qualname__):
                raise  # raised inside the tool, not by its arguments: a bug, keep its traceback
            raise InputError(describe_validation_error(exc)) from None
        return result

    wrapper.__logos_tool__ = True  # type: ignore[attr-defined]
    return wrapper
