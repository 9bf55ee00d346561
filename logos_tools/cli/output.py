"""Printing results from CLI commands: JSON for machines, readable text for people."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import BaseModel


def emit(result: BaseModel | dict[str, Any] | list[Any], *, as_json: bool, text: str | None = None) -> None:
    """Print ``result`` as indented JSON when ``as_json``, else ``text`` (or the JSON if no text)."""
    if isinstance(result, BaseModel):
        payload: Any = result.model_dump(mode="json")
    else:
        payload = result
    if as_json or text is None:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
