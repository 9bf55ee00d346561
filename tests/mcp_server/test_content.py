"""Tool results: structured content, a text block with resource hints, and a PNG grid of molecules."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ImageContent
from PIL import Image
from pydantic import BaseModel

from logos_tools.mcp_server.content import resource_hints, structured_content
from logos_tools.mcp_server.server import build_server
from tests.mcp_server.conftest import scripted_toolkit
from tests.mcp_server.support import text_of

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
