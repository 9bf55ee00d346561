"""MCP resources: the grammar reference, the models, stored results (JSON and file exports) and jobs.

| URI | content |
|---|---|
| ``logos://grammar`` | markdown reference of the active grammar profile |
| ``logos://models`` | the active model, and the demo, registered GGUFs and known LOGOS checkpoints (JSON) |
| ``logos://results`` | the 20 most recent stored results (JSON) |
| ``logos://results/{result_id}`` | one stored result with its provenance (JSON) |
| ``logos://results/{result_id}/sdf`` (``csv``, ``fasta``) | its molecules or sequences as a file |
| ``logos://jobs/{job_id}`` | a background job's status, and its result once complete (JSON) |
| ``logos://schemas/{tool}`` | the complete JSON schema of a tool's result |
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)
from pydantic import BaseModel

from logos_tools.errors import InputError, LogosError, ResultNotFoundError
from logos_tools.mcp_server.grammar_reference import grammar_reference
from logos_tools.store.exports import export_result
from logos_tools.toolkit.toolkit import Toolkit

P = ParamSpec("P")
R = TypeVar("R")

RECENT_RESULTS = 20
MAX_COMPLETIONS = 100  # the protocol's cap on completion values per answer
EXPORTS = {"sdf": "chemical/x-mdl-sdfile", "csv": "text/csv", "fasta": "text/x-fasta"}


def _json(value: BaseModel | list[Any] | dict[str, Any]) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    data = (
        [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
        if isinstance(value, list)
        else value
    )
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


# The store's messages point at the CLI (`logos results list`, "export it as jsonl"); over MCP the same
# things are resources.
RESULTS_HINT = (
    "Over MCP, logos://results lists the recent result ids and logos://results/{result_id} holds a whole "
    "result as JSON."
)


def _mapped(read: Callable[P, R], hint: str = "") -> Callable[P, R]:
    """Turn our errors into resource errors whose message reaches the client (others are masked).

    ``hint`` is appended to refusals (bad or unknown id, nothing to export).
    """

    @functools.wraps(read)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except (ResultNotFoundError, InputError) as exc:
            raise ResourceNotFoundError(f"{exc} {hint}".strip()) from exc
        except LogosError as exc:
            raise ResourceError(str(exc)) from exc

    return wrapper


def _result_read(read: Callable[P, R]) -> Callable[P, R]:
    """``_mapped`` for reads of stored results: refusals also say where results are over MCP."""
    return _mapped(read, RESULTS_HINT)


def export_text(toolkit: Toolkit, result_id: str, fmt: str) -> str:
    """A stored result exported as ``fmt`` (sdf, csv or fasta), as text.

    Raises:
        InputError: a malformed id, or a result without molecules (sdf, csv) or sequences (fasta), or
            none that can be written (an SDF or FASTA file would be empty).
        ResultNotFoundError: no stored result has that id.
    """
    with tempfile.TemporaryDirectory(prefix="logos-mcp-") as folder:
        target = Path(folder) / f"{result_id}.{fmt}"
        # The store refuses an SDF or FASTA export that would be empty, naming the formats that fit.
        export_result(toolkit.store, result_id, fmt, target, profile=toolkit.profile)
        return target.read_text(encoding="utf-8")


def register_resources(
    server: MCPServer[Any], toolkit: Toolkit, *, output_schemas: dict[str, dict[str, Any]] | None = None
) -> None:
    """Add the logos:// resources and resource templates to ``server``.

    ``output_schemas`` (tool name -> complete result schema) backs ``logos://schemas/{tool}``.
    """
    schemas = output_schemas or {}

    @server.resource(
        "logos://grammar",
        name="grammar",
        title="LOGOS grammar reference",
        description="Tags, task templates, sampling defaults and unpublished settings of the grammar profile.",
        mime_type="text/markdown",
    )
    def read_grammar() -> str:
        return grammar_reference(toolkit.profile)

    @server.resource(
        "logos://models",
        name="models",
        title="Models",
        description="The model the tools run, the built-in demo, registered GGUFs and known LOGOS checkpoints.",
        mime_type="application/json",
    )
    @_mapped
    def read_models() -> str:
        return _json(toolkit.list_models())

    @server.resource(
        "logos://results",
        name="results",
        title="Recent results",
        description=f"The {RECENT_RESULTS} most recent stored tool results (id, tool, status, time).",
        mime_type="application/json",
    )
    @_mapped
    def read_recent() -> str:
        return _json(toolkit.store.list(limit=RECENT_RESULTS))

    @server.resource(
        "logos://results/{result_id}",
        name="result",
        title="Stored result",
        description="One stored tool result with inputs, model, sampling parameters, outputs and timings.",
        mime_type="application/json",
    )
    @_result_read
    def read_result(result_id: str) -> str:
        return _json(toolkit.store.get(result_id))

    for fmt, mime in EXPORTS.items():
        _register_export(server, toolkit, fmt, mime)

    @server.resource(
        "logos://schemas/{tool}",
        name="result-schema",
        title="Result schema of a tool",
        description="The complete JSON schema of a tool's result, every nested field described.",
        mime_type="application/schema+json",
    )
    def read_schema(tool: str) -> str:
        if tool not in schemas:
            raise ResourceNotFoundError(f"No tool named {tool!r}. Tools: {', '.join(sorted(schemas))}.")
        return json.dumps(schemas[tool], indent=2)

    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        """Complete resource-template arguments: stored result ids (newest first) and tool names."""
        if not isinstance(ref, ResourceTemplateReference):
            return None
        if argument.name == "result_id":
            summaries = await anyio.to_thread.run_sync(lambda: toolkit.store.list(limit=MAX_COMPLETIONS))
            values = [summary.id for summary in summaries if summary.id.startswith(argument.value)]
        elif argument.name == "tool":
            values = [name for name in sorted(schemas) if name.startswith(argument.value)]
        else:
            return None
        return Completion(values=values[:MAX_COMPLETIONS], total=len(values), has_more=False)

    server.completion()(complete)  # type: ignore[no-untyped-call]  # the SDK leaves this decorator untyped

    @server.resource(
        "logos://jobs/{job_id}",
        name="job",
        title="Background job",
        description="Status of the background job that finishes a call which ran out of time; includes the "
        "complete result when done.",
        mime_type="application/json",
    )
    @_mapped
    def read_job(job_id: str) -> str:
        return _json(toolkit.jobs.status(job_id))


def _register_export(server: MCPServer[Any], toolkit: Toolkit, fmt: str, mime: str) -> None:
    what = "sequences" if fmt == "fasta" else "molecules"

    @_result_read
    def read_export(result_id: str) -> str:
        return export_text(toolkit, result_id, fmt)

    read_export.__name__ = f"read_{fmt}_export"
    server.resource(
        f"logos://results/{{result_id}}/{fmt}",
        name=f"result-{fmt}",
        title=f"Stored result as {fmt.upper()}",
        description=f"The {what} of a stored result as a {fmt.upper()} file.",
        mime_type=mime,
    )(read_export)
