"""What LangChain needs to know about a toolkit method, read from the method itself.

A tool exists once, as a typed toolkit method: its name is the tool name, its docstring the
description, its ``Annotated[..., Field(...)]`` parameters the arguments and its return annotation
the result type. Nothing here is written per tool.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from logos_tools.errors import InputError
from logos_tools.toolkit import Toolkit

ToolMethod = Callable[..., Any]


def tool_method(toolkit: Toolkit, name: str) -> ToolMethod:
    """The bound toolkit method behind the tool ``name``.

    Raises:
        InputError: the toolkit has no tool of that name.
    """
    methods = {method.__name__: method for method in toolkit.tools()}
    if name not in methods:
        raise InputError(f"{name!r} is not a LOGOS tool of this toolkit. Use one of: {', '.join(methods)}.")
    return methods[name]


def describe(method: ToolMethod) -> str:
    """The tool description: the method's docstring, dedented (its first line is the summary).

    Raises:
        InputError: the method has no docstring (an agent could not tell what the tool does).
    """
    doc = inspect.getdoc(method)
    if not doc:
        raise InputError(
            f"Tool method {method.__name__!r} has no docstring; write one, it is the description."
        )
    return doc


def arguments_model(method: ToolMethod) -> type[BaseModel]:
    """A pydantic model of the method's parameters: same types, defaults, limits and descriptions.

    Unknown arguments are rejected (``extra="forbid"``), so the JSON schema says
    ``additionalProperties: false`` as the toolkit's own validation does.
    """
    hints = typing.get_type_hints(method, include_extras=True)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(method).parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue  # tool methods take named arguments only; nothing to describe
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    model: type[BaseModel] = create_model(
        f"{method.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def result_type(method: ToolMethod) -> Any:
    """The method's return annotation: the type of the structured result (an artifact's shape)."""
    return typing.get_type_hints(method).get("return", Any)
