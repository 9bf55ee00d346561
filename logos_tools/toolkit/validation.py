"""Argument validation for tool methods: pydantic checks every call, errors become InputError."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import ConfigDict, ValidationError, validate_call

from logos_tools.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per bad argument: which, what was given, which rule, how to fix."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
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


def tool(method: Callable[P, R]) -> Callable[P, R]:
    """Validate a tool method's arguments against its annotations on every call.

    Raises (from the wrapped method):
        InputError: an argument breaks its type or range; the message names each one.
    """
    validated: Callable[..., Any] = validate_call(config=ConfigDict(arbitrary_types_allowed=True))(method)

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
