"""Turn a toolkit result into an MCP tool result: structured content, a complete text block, a picture.

Hosts differ in what the model sees (only the structured JSON, or only the text), so both carry the
whole answer; the PNG grid of molecules is for people looking at the conversation.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import BaseModel, TypeAdapter

from logos_tools.mcp_server.depiction import molecule_grid_png
from logos_tools.store.exports import molecule_records, sequence_records
from logos_tools.toolkit.rendering import render_text

logger = logging.getLogger(__name__)

# One tool result is one JSON-RPC message. The SDK's streamable-HTTP client refuses a server-sent event
# over 1 MiB (measured: a 45 s generate_molecules run made 1.9 MB of rejected molecules and invalid
# samples), and hosts cut long results anyway; the complete result stays in the store.
MAX_STRUCTURED_BYTES = 512 * 1024
# Diagnostic lists, cut first (the text shows 5 of each): only then is the answer itself shortened.
DETAIL_FIELDS = ("invalid_samples", "rejected_molecules", "divergences", "extra_molecules", "extra_materials")
DETAIL_KEEP = 20


@dataclass(frozen=True)
class Shortened:
    """A list the structured content shows only the start of."""

    field: str
    shown: int
    total: int


def structured_content(result: Any, result_type: Any) -> dict[str, Any]:
    """The JSON object the tool's output schema describes.

    A pydantic result is its own JSON object; any other return type (e.g. a list) is wrapped as
    ``{"result": ...}``, which is how the MCP SDK builds the output schema of such tools.
    """
    if isinstance(result_type, type) and issubclass(result_type, BaseModel):
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped
    return {"result": TypeAdapter(result_type).dump_python(result, mode="json")}


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def fit_structured(
    data: dict[str, Any], limit: int = MAX_STRUCTURED_BYTES
) -> tuple[dict[str, Any], list[Shortened]]:
    """``data`` with its longest lists cut until its JSON is at most ``limit`` bytes, and what was cut.

    Diagnostic lists (``DETAIL_FIELDS``) are cut to ``DETAIL_KEEP`` entries first; then the list that
    takes the most bytes is halved, and again, until the result fits. A finished job's ``result`` is
    cut the same way. Cut lists keep their first (best-ranked) entries, so the content still matches
    the output schema. Small results come back unchanged.
    """
    if _json_size(data) <= limit:
        return data, []
    nested = isinstance(data.get("result"), dict) and "job_id" in data
    outer = dict(data)
    inner: dict[str, Any] = dict(data["result"]) if nested else outer
    prefix = "result." if nested else ""
    totals: dict[str, int] = {}

    def cut(key: str, keep: int) -> None:
        totals.setdefault(key, len(inner[key]))
        inner[key] = inner[key][:keep]

    def current() -> dict[str, Any]:
        return outer | {"result": inner} if nested else inner

    for key in DETAIL_FIELDS:
        if isinstance(inner.get(key), list) and len(inner[key]) > DETAIL_KEEP:
            cut(key, DETAIL_KEEP)
    while _json_size(current()) > limit:
        lists = [key for key, value in inner.items() if isinstance(value, list) and value]
        if not lists:
            break
        largest = max(lists, key=lambda key: _json_size(inner[key]))
        cut(largest, len(inner[largest]) // 2)
    shortened = [
        Shortened(prefix + key, len(inner[key]), total)
        for key, total in totals.items()
        if len(inner[key]) < total
    ]
    return current(), shortened


def shortened_note(shortened: list[Shortened], data: dict[str, Any]) -> list[str]:
    """The text line saying which lists the structured content cut and where the complete result is."""
    if not shortened:
        return []
    inner = data.get("result") if isinstance(data.get("result"), dict) else data
    result_id = inner.get("result_id") if isinstance(inner, dict) else None
    where = f"logos://results/{result_id}" if isinstance(result_id, str) else "the results store"
    cuts = ", ".join(f"{item.field} shows {item.shown} of {item.total}" for item in shortened)
    return [
        f"Structured content shortened to fit one MCP message ({MAX_STRUCTURED_BYTES // 1024} KiB): {cuts}. "
        f"The complete result is {where}."
    ]


def resource_hints(data: dict[str, Any]) -> list[str]:
    """Lines naming the MCP resources that hold this result (by id) and its running job."""
    lines = []
    result_id = data.get("result_id")
    if isinstance(result_id, str):
        # Only formats with something to write: a scoring result's records all carry 'smiles' and
        # 'sequence' keys, null for the other kinds, and an SDF or FASTA of nulls would be empty.
        molecules = molecule_records(data)
        exports = []
        if any(_filled(record.get("smiles")) for record in molecules):
            exports.append("sdf")
        if molecules:
            exports.append("csv")  # a table keeps every row, SMILES or not
        if any(_filled(record.get("sequence")) for record in sequence_records(data)):
            exports.append("fasta")
        shown = ", ".join(f"logos://results/{result_id}/{fmt}" for fmt in exports)
        lines.append(
            f"Resources: logos://results/{result_id} (JSON)" + (f"; exports {shown}" if shown else "") + "."
        )
    job_id = data.get("job_id")
    if isinstance(job_id, str) and data.get("status") in (None, "running", "cancelling"):
        lines.append(f"Job status resource: logos://jobs/{job_id}.")
    return lines


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def tool_result(result: Any, result_type: Any, *, images: bool) -> CallToolResult:
    """Structured content, the text rendering (plus resource hints) and, if asked, a molecule PNG."""
    complete = structured_content(result, result_type)
    structured, shortened = fit_structured(complete)
    if shortened:
        logger.info(
            "Result shortened for MCP: %s", ", ".join(f"{s.field} {s.shown}/{s.total}" for s in shortened)
        )
    text = "\n".join([render_text(result), *resource_hints(complete), *shortened_note(shortened, complete)])
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    if images:
        png = molecule_grid_png(_depiction_source(structured))
        if png is not None:
            content.append(
                ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")
            )
    meta = (
        {"logos/shortened": {item.field: {"shown": item.shown, "total": item.total} for item in shortened}}
        if shortened
        else None
    )
    return CallToolResult(content=content, structured_content=structured, _meta=meta)


def _depiction_source(structured: dict[str, Any]) -> dict[str, Any]:
    """What to draw: the result itself, or the complete result a finished job carries."""
    inner = structured.get("result")
    if isinstance(inner, dict) and "job_id" in structured:
        return inner
    return structured
