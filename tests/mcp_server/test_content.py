"""Tool results: structured content, a text block with resource hints, and a PNG grid of molecules."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ImageContent
from PIL import Image
from pydantic import BaseModel

from logos_tools.mcp_server.content import (
    DETAIL_KEEP,
    MAX_STRUCTURED_BYTES,
    Shortened,
    fit_structured,
    resource_hints,
    shortened_note,
    structured_content,
)
from logos_tools.mcp_server.server import build_server
from logos_tools.mcp_server.transport import http_app
from logos_tools.toolkit.toolkit import Toolkit
from tests.mcp_server.conftest import scripted_toolkit
from tests.mcp_server.support import serving_in_thread, text_of

pytestmark = pytest.mark.anyio
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MOLECULES = ["CCO<MoleculeE>", "c1ccccc1O<MoleculeE>", "CC(=O)Nc1ccc(O)cc1<MoleculeE>"]


async def test_molecule_results_carry_a_png_grid_of_their_molecules(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=True)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 3, "seed": 1})
    _text, image = result.content
    assert isinstance(image, ImageContent)
    assert image.mime_type == "image/png"
    png = base64.b64decode(image.data)
    assert png.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(png)).size == (4 * 240, 200)  # one row of three, four cells wide
    assert "CC(=O)Nc1ccc(O)cc1" in text_of(result)


async def test_images_can_be_switched_off(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=False)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 3})
    assert [block.type for block in result.content] == ["text"]


async def test_the_images_setting_comes_from_the_environment_by_default(isolated_home: Path) -> None:
    toolkit = scripted_toolkit(isolated_home, MOLECULES, mcp_images=False)
    async with Client(build_server(toolkit)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 3})
    assert [block.type for block in result.content] == ["text"]


async def test_results_without_drawable_molecules_carry_no_image(isolated_home: Path) -> None:
    toolkit = scripted_toolkit(isolated_home, ["IAKW<ProteinE>"])
    async with Client(build_server(toolkit, images=True)) as client:
        result = await client.call_tool("complete_sequence", {"prefix": "MKTAY", "num_samples": 1})
    assert [block.type for block in result.content] == ["text"]


async def test_the_text_names_the_resources_that_hold_the_result(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=False)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 3})
    assert result.structured_content is not None
    result_id = result.structured_content["result_id"]
    assert (
        f"Resources: logos://results/{result_id} (JSON); exports logos://results/{result_id}/sdf, "
        f"logos://results/{result_id}/csv." in text_of(result)
    )


def test_resource_hints_name_a_running_job_and_the_formats_a_result_can_export() -> None:
    data = {"result_id": "r-0123456789ab", "job_id": "j-0123456789ab", "variants": [{"sequence": "MK"}]}
    assert resource_hints(data) == [
        "Resources: logos://results/r-0123456789ab (JSON); exports logos://results/r-0123456789ab/fasta.",
        "Job status resource: logos://jobs/j-0123456789ab.",
    ]
    assert resource_hints({"job_id": "j-0123456789ab", "status": "complete"}) == []


def test_structured_content_of_a_non_model_return_type_is_wrapped_as_result() -> None:
    class Point(BaseModel):
        x: int

    assert structured_content(Point(x=1), Point) == {"x": 1}
    assert structured_content([Point(x=1)], list[Point]) == {"result": [{"x": 1}]}


def _molecule_result(rejected: int, invalid: int) -> dict[str, object]:
    return {
        "result_id": "r-0123456789ab",
        "molecules": [{"smiles": "CCO", "rank": 1}],
        "rejected_molecules": [
            {"smiles": "C" * 40, "rank": i, "reasons": ["qed 0.2 < 0.9"]} for i in range(rejected)
        ],
        "invalid_samples": [
            {"index": i, "text": "C1" + "C" * 200, "reason": "unclosed ring"} for i in range(invalid)
        ],
    }


def test_a_small_result_is_sent_whole() -> None:
    data = _molecule_result(rejected=30, invalid=30)
    assert fit_structured(data) == (data, [])


def test_an_oversize_result_loses_diagnostic_lists_first_keeping_their_first_entries() -> None:
    data = _molecule_result(rejected=1800, invalid=2700)
    fitted, shortened = fit_structured(data)
    assert len(json.dumps(fitted)) <= MAX_STRUCTURED_BYTES
    assert fitted["molecules"] == data["molecules"]
    assert fitted["rejected_molecules"] == data["rejected_molecules"][:DETAIL_KEEP]  # type: ignore[index]
    assert fitted["invalid_samples"] == data["invalid_samples"][:DETAIL_KEEP]  # type: ignore[index]
    assert shortened == [Shortened("invalid_samples", 20, 2700), Shortened("rejected_molecules", 20, 1800)]
    assert shortened_note(shortened, data) == [
        "Structured content shortened to fit one MCP message (512 KiB): invalid_samples shows 20 of 2700, "
        "rejected_molecules shows 20 of 1800. The complete result is logos://results/r-0123456789ab."
    ]


def test_an_answer_too_long_for_one_message_is_halved_until_it_fits_best_first() -> None:
    samples = [{"rank": i, "text": "M" * 4000} for i in range(600)]
    data = {
        "job_id": "j-0123456789ab",
        "status": "complete",
        "result": {"result_id": "r-1", "samples": samples},
    }
    fitted, shortened = fit_structured(data, limit=300_000)
    assert 100_000 < len(json.dumps(fitted)) <= 300_000  # halving stops just under the limit
    kept = fitted["result"]["samples"]
    assert kept == samples[: len(kept)]
    assert shortened == [Shortened("result.samples", len(kept), 600)]
    assert "logos://results/r-1" in shortened_note(shortened, data)[0]


async def test_an_oversize_result_reaches_the_sdks_http_client_shortened_with_the_complete_one_stored(
    demo_toolkit: Toolkit,
) -> None:
    # 5000 demo samples with a QED bar almost nothing passes: about 1.7 MB of rejected molecules and
    # invalid samples, over the 1 MiB the SDK's streamable-HTTP client accepts in one server-sent event
    # (the call failed with "Server-sent event exceeded the 1048576 byte limit" before the cut). The
    # progress callback makes the server answer as an event stream, as it does for hosts showing progress.
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    arguments = {"num_molecules": 500, "max_samples": 5000, "min_qed": 0.99, "seed": 3, "time_budget_s": 600}
    with serving_in_thread(http_app(build_server(demo_toolkit, images=False))) as url:
        async with Client(url) as client:
            result = await client.call_tool("generate_molecules", arguments, progress_callback=on_progress)
            assert result.structured_content is not None
            stored = await client.read_resource(f"logos://results/{result.structured_content['result_id']}")
    assert not result.is_error, text_of(result)
    assert seen, "no progress notification: the answer did not come as an event stream"
    assert result.meta is not None
    shortened = result.meta["logos/shortened"]
    assert shortened["rejected_molecules"]["shown"] == DETAIL_KEEP
    assert f"rejected_molecules shows 20 of {shortened['rejected_molecules']['total']}" in text_of(result)
    content = stored.contents[0]
    assert hasattr(content, "text")
    outputs = json.loads(content.text)["outputs"]
    assert len(outputs["rejected_molecules"]) == shortened["rejected_molecules"]["total"] > DETAIL_KEEP
