"""Turn a toolkit result into an MCP tool result: structured content, a complete text block, a picture.

Hosts differ in what the model sees (only the structured JSON, or only the text), so both carry the
whole answer; the PNG grid of molecules is for people looking at the conversation.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import BaseModel, TypeAdapter

from logos_tools.mcp_server.depiction import molecule_grid_png
from logos_tools.store.exports import molecule_records, sequence_records
from logos_tools.toolkit.rendering import render_text

logger = logging.getLogger(__name__)


def structured_content(result: Any, result_type: Any) -> dict[str, Any]:
    """The JSON object the tool's output schema describes.

    A pydantic result is its own JSON object; any other return type (e.g. a list) is wrapped as
    ``{"result": ...}``, which is how the MCP SDK builds the output schema of such tools.
    """
    if isinstance(result_type, type) and issubclass(result_type, BaseModel):
        dumped: dict[str, Any] = result.model_dump(mode="json")
        return dumped
    return {"result": TypeAdapter(result_type).dump_python(result, mode="json")}


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
    structured = structured_content(result, result_type)
    text = "\n".join([render_text(result), *resource_hints(structured)])
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    if images:
        png = molecule_grid_png(_depiction_source(structured))
        if png is not None:
            content.append(
                ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")
            )
    return CallToolResult(content=content, structured_content=structured)


def _depiction_source(structured: dict[str, Any]) -> dict[str, Any]:
    """What to draw: the result itself, or the complete result a finished job carries."""
    inner = structured.get("result")
    if isinstance(inner, dict) and "job_id" in structured:
        return inner
    return structured
