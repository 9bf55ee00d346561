"""The toolkit's methods as MCP tools, driven by the SDK's in-memory client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from logos_tools.mcp_server.server import build_server
from logos_tools.mcp_server.tools import compact_schema, optional_without_null, outline_schema
from logos_tools.runtime.base import GenerationRequest
from logos_tools.settings import Settings
from logos_tools.toolkit import TOOL_NAMES
from logos_tools.toolkit.toolkit import Toolkit
from tests.mcp_server.conftest import scripted_toolkit
from tests.mcp_server.support import (
    HIV_PROTEASE,
    TOOL_CALLS,
    call_every_tool,
    cancel_a_long_generation,
    text_of,
)

pytestmark = pytest.mark.anyio
ASPIRIN_RETRO = "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>O=C(O)c1ccccc1O<MoleculeE>"


async def test_tools_list_has_every_toolkit_tool_with_schemas_descriptions_and_hints(
    isolated_home: Path,
) -> None:
    toolkit = scripted_toolkit(isolated_home, [ASPIRIN_RETRO])
    async with Client(build_server(toolkit)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == list(TOOL_NAMES)
    for method in toolkit.tools():
        tool = tools[method.__name__]
        assert tool.description
        assert tool.description.splitlines()[0] == (method.__doc__ or "").strip().splitlines()[0]
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.output_schema is not None
        assert tool.output_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is False
    retro = tools["retrosynthesis"]
    assert retro.input_schema["required"] == ["product"]
    assert retro.input_schema["properties"]["num_samples"] == {
        "description": "Samples to draw (default 32, the LOGOS reference).",
        "maximum": 256,
        "minimum": 1,
        "type": "integer",
    }
    assert retro.annotations is not None
    assert (retro.annotations.read_only_hint, retro.annotations.destructive_hint) == (False, False)
    assert retro.annotations.idempotent_hint is False  # samples anew unless a seed is passed
    assert tools["score_objects"].annotations.idempotent_hint is True  # type: ignore[union-attr]
    assert tools["list_models"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert tools["get_job"].annotations.read_only_hint is False  # type: ignore[union-attr]  # it can cancel
    assert "title" not in str(retro.input_schema)
    assert "title" not in str(retro.output_schema)


async def test_tools_list_answers_before_any_model_is_loaded(isolated_home: Path) -> None:
    toolkit = Toolkit(Settings(home=isolated_home, model="no-such-model"))
    async with Client(build_server(toolkit)) as client:
        assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
        failed = await client.call_tool("retrosynthesis", {"product": "CCO", "num_samples": 1})
    assert failed.is_error
    assert "no-such-model" in text_of(failed)


async def test_every_tool_on_the_demo_model_returns_valid_structured_content_and_a_complete_text(
    demo_toolkit: Toolkit,
) -> None:
    async with Client(build_server(demo_toolkit, images=True)) as client:
        called = await call_every_tool(client)
    assert sorted(called) == sorted(TOOL_NAMES)


async def test_bad_arguments_come_back_as_errors_that_say_what_to_fix_and_the_server_keeps_serving(
    isolated_home: Path,
) -> None:
    toolkit = scripted_toolkit(isolated_home, [ASPIRIN_RETRO])
    bad_calls: list[tuple[str, dict[str, Any], str]] = [
        ("retrosynthesis", {"product": "C1CC"}, "product SMILES 'C1CC' is invalid: unclosed ring"),
        (
            "retrosynthesis",
            {"product": "CCO", "num_samples": 0},
            "num_samples=0: Input should be greater than",
        ),
        ("retrosynthesis", {"product": "CCO", "num_sample": 3}, "num_sample is not an argument of this tool"),
        ("predict_reaction", {"reactants": "CCO"}, "reactants='CCO': Input should be a valid list"),
        ("get_job", {"job_id": "nope"}, "'nope' is not a job id"),
        ("get_job", {"job_id": "j-0123456789ab"}, "No job 'j-0123456789ab'"),
        (
            "no_such_tool",
            {},
            "Unknown tool: 'no_such_tool' is not a tool of this server. Call one of: retrosynthesis, "
            "predict_reaction,",
        ),
    ]
    async with Client(build_server(toolkit)) as client:
        for name, arguments, message in bad_calls:
            result = await client.call_tool(name, arguments)
            assert result.is_error, name
            assert message in text_of(result)
        good = await client.call_tool(
            "retrosynthesis", {"product": "CC(=O)Oc1ccccc1C(=O)O", "num_samples": 2}
        )
    assert not good.is_error
    assert "CC(=O)O . O=C(O)c1ccccc1O" in text_of(good)


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("retrosynthesis", {"product": "CCO", "self": 5}, "self is not an argument of this tool"),
        ("retrosynthesis", {"product": "CCO", "": 5}, "'' is not an argument of this tool"),
        (
            "retrosynthesis",
            {"product": "CCO", "mcp_request_context": 5},
            "mcp_request_context is not an argument of this tool",
        ),
        ("list_models", {"verbose": True}, "verbose is not an argument of this tool (it takes no arguments)"),
    ],
)
async def test_argument_names_the_tool_lacks_are_refused_by_name_with_the_arguments_it_has(
    isolated_home: Path, tool: str, arguments: dict[str, Any], message: str
) -> None:
    toolkit = scripted_toolkit(isolated_home, [ASPIRIN_RETRO])
    async with Client(build_server(toolkit, images=False)) as client:
        refused = await client.call_tool(tool, arguments)
        stored = toolkit.store.list()
        good = await client.call_tool(
            "retrosynthesis", {"product": "CC(=O)Oc1ccccc1C(=O)O", "num_samples": 1}
        )
    assert refused.is_error
    assert message in text_of(refused)
    if tool == "retrosynthesis":
        assert "(its arguments: product, num_samples, seed, temperature, time_budget_s)" in text_of(refused)
    assert "Internal error" not in text_of(refused)
    assert not good.is_error, text_of(good)
    assert stored == []  # refused before the toolkit ran


async def test_structure_paths_outside_the_allowed_folders_are_refused(
    isolated_home: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.pdb"
    outside.write_text(Path(HIV_PROTEASE).read_text(encoding="utf-8"), encoding="utf-8")
    toolkit = scripted_toolkit(isolated_home, [""])
    async with Client(build_server(toolkit)) as client:
        result = await client.call_tool("design_ligands", {"structure_path": str(outside), "ligand": "XK2"})
    assert result.is_error
    assert "outside the folders this server may read" in text_of(result)
    assert "LOGOS_ALLOWED_ROOTS" in text_of(result)


async def test_an_internal_failure_is_reported_as_a_bug_not_as_bad_input(isolated_home: Path) -> None:
    def broken(request: GenerationRequest, index: int) -> str:
        raise RuntimeError("decoder exploded")

    toolkit = scripted_toolkit(isolated_home, broken)
    async with Client(build_server(toolkit)) as client:
        result = await client.call_tool("retrosynthesis", {"product": "CCO", "num_samples": 1})
    assert result.is_error
    assert "Internal error in tool retrosynthesis: RuntimeError: decoder exploded" in text_of(result)
    assert "not a problem with your input" in text_of(result)


async def test_progress_notifications_count_seconds_against_the_time_budget(demo_toolkit: Toolkit) -> None:
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with Client(build_server(demo_toolkit, images=False)) as client:
        result = await client.call_tool(
            "retrosynthesis",
            {"product": "CC(=O)Oc1ccccc1C(=O)O", "num_samples": 32, "seed": 5, "time_budget_s": 30},
            progress_callback=on_progress,
        )
    assert not result.is_error, text_of(result)
    assert notes, "no progress notification during sampling"
    assert all(total == 30 for _, total, _ in notes)
    assert all("retrosynthesis:" in (message or "") for _, _, message in notes)
    values = [progress for progress, _, _ in notes]
    assert values == sorted(set(values)), "progress must grow with every notification"


async def test_cancelling_a_call_stops_its_generation_promptly(demo_toolkit: Toolkit) -> None:
    async with Client(build_server(demo_toolkit, images=False)) as client:
        follow_up, waited = await cancel_a_long_generation(client)
    assert not follow_up.is_error, text_of(follow_up)
    assert waited < 30, f"the cancelled generation kept the model for {waited:.0f} s"
    assert demo_toolkit.store.list(tool="generate_molecules") == []  # it stopped before recording a result


async def test_parallel_calls_queue_on_the_model_and_all_succeed(demo_toolkit: Toolkit) -> None:
    results = {}
    async with Client(build_server(demo_toolkit, images=False)) as client:

        async def call(seed: int) -> None:
            arguments = {"prompt": "<MoleculeS>C", "num_samples": 2, "max_new_tokens": 24, "seed": seed}
            results[seed] = await client.call_tool("complete_grammar", arguments)

        async with anyio.create_task_group() as group:
            for seed in range(4):
                group.start_soon(call, seed)
    assert all(not result.is_error for result in results.values()), [text_of(r) for r in results.values()]
    ids = {result.structured_content["result_id"] for result in results.values() if result.structured_content}
    assert len(ids) == 4


async def test_a_call_that_outgrows_its_budget_returns_partial_results_and_get_job_delivers_the_rest(
    demo_toolkit: Toolkit,
) -> None:
    async with Client(build_server(demo_toolkit, images=False)) as client:
        arguments = {"num_molecules": 300, "max_samples": 3000, "seed": 8, "time_budget_s": 1}
        partial = await client.call_tool("generate_molecules", arguments)
        assert partial.structured_content is not None
        job_id = partial.structured_content["job_id"]
        assert job_id, "300 molecules were generated within 1 s: raise num_molecules"
        assert partial.structured_content["run"]["budget_hit"] == "time"
        assert f"call get_job with job_id '{job_id}'" in text_of(partial)
        assert demo_toolkit.jobs.wait(job_id, timeout_s=600).status == "complete"
        done = await client.call_tool("get_job", {"job_id": job_id})
        resource = await client.read_resource(f"logos://jobs/{job_id}")
    assert done.structured_content is not None
    assert done.structured_content["status"] == "complete"
    complete_id = done.structured_content["result_id"]
    assert f"Complete result id: {complete_id}" in text_of(done)
    assert "Generated molecules:" in text_of(done)  # the job's result is rendered like the tool's own answer
    assert demo_toolkit.store.get(complete_id).parent_id == partial.structured_content["result_id"]
    assert '"status": "complete"' in resource.contents[0].text  # type: ignore[union-attr]


def test_schemas_lose_generated_titles_but_keep_properties_called_title() -> None:
    schema = {
        "title": "Args",
        "properties": {"title": {"title": "Title", "type": "string", "default": {"title": "x"}}},
    }
    assert compact_schema(schema) == {"properties": {"title": {"type": "string", "default": {"title": "x"}}}}


def test_optional_parameters_are_advertised_without_their_null_branch() -> None:
    schema = {
        "properties": {
            "seed": {
                "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                "default": None,
                "description": "d",
            },
            "prefix": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "required stays"},
        },
        "required": ["prefix"],
    }
    assert optional_without_null(schema)["properties"] == {
        "seed": {"description": "d", "type": "integer", "minimum": 0},
        "prefix": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "required stays"},
    }


def test_the_outline_output_schema_keeps_every_field_and_its_json_type() -> None:
    full = {
        "properties": {
            "product": {"type": "string"},
            "candidates": {"type": "array", "items": {"$ref": "#/$defs/ReactantSet"}},
            "job_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "value": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/X"}]},
            "anything": {},
        },
        "required": ["product", "candidates"],
        "$defs": {"ReactantSet": {"type": "object"}},
    }
    assert outline_schema(full) == {
        "type": "object",
        "properties": {
            "product": {"type": "string"},
            "candidates": {"type": "array", "items": {"type": "object"}},
            "job_id": {"type": ["string", "null"]},
            "value": {"type": ["string", "object"]},
            "anything": {},
        },
        "required": ["product", "candidates"],
    }


def test_tool_calls_cover_every_tool_but_get_job() -> None:
    assert set(TOOL_CALLS) == set(TOOL_NAMES) - {"get_job"}
