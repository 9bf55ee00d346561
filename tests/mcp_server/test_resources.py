"""Resources: grammar reference, models, stored results with their exports, jobs and result schemas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference
from rdkit import Chem

from logos_tools.grammar.profile import Profile
from logos_tools.mcp_server.server import build_server
from tests.mcp_server.conftest import scripted_toolkit
from tests.mcp_server.support import text_of

pytestmark = pytest.mark.anyio
MOLECULES = ["CCO<MoleculeE>", "c1ccccc1O<MoleculeE>", "CC(=O)Nc1ccc(O)cc1<MoleculeE>"]


async def _text(client: Client, uri: str) -> str:
    read = await client.read_resource(uri)
    (content,) = read.contents
    assert hasattr(content, "text"), f"{uri} is not text"
    text: str = content.text
    return text


async def test_resources_and_templates_are_listed_with_their_uris(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert resources == {"logos://grammar", "logos://models", "logos://results"}
    assert templates == {
        "logos://results/{result_id}",
        "logos://results/{result_id}/sdf",
        "logos://results/{result_id}/csv",
        "logos://results/{result_id}/fasta",
        "logos://jobs/{job_id}",
        "logos://schemas/{tool}",
    }


async def test_the_grammar_reference_shows_every_tag_and_task_of_the_profile(
    isolated_home: Path, profile: Profile
) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        text = await _text(client, "logos://grammar")
    assert text.startswith(f"# LOGOS grammar: profile {profile.name}")
    assert all(f"`{tag}`" in text for tag in profile.all_tags())
    assert all(f"| {task} |" in text for task in profile.tasks)
    assert f"| ligand_prompt_tail | `{profile.unpublished.ligand_prompt_tail}` |" in text


async def test_the_models_resource_lists_the_demo_and_the_known_checkpoints(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        listing = json.loads(await _text(client, "logos://models"))
    assert (listing["active"], listing["backend"]) == ("demo", "llamacpp")
    names = {model["name"]: model["kind"] for model in listing["models"]}
    assert names["demo"] == "demo"
    assert names["LOGOS-pretrain-1B"] == "checkpoint"


async def test_a_stored_result_reads_back_as_json_and_exports_as_sdf_and_csv(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=False)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 3, "seed": 2})
        assert result.structured_content is not None
        result_id = result.structured_content["result_id"]
        stored = json.loads(await _text(client, f"logos://results/{result_id}"))
        recent = json.loads(await _text(client, "logos://results"))
        sdf = await _text(client, f"logos://results/{result_id}/sdf")
        table = await _text(client, f"logos://results/{result_id}/csv")
    smiles = sorted(m["smiles"] for m in result.structured_content["molecules"])
    assert (stored["id"], stored["tool"], stored["parameters"]["seed"]) == (
        result_id,
        "generate_molecules",
        2,
    )
    assert [entry["id"] for entry in recent] == [result_id]
    supplier = Chem.SDMolSupplier()
    supplier.SetData(sdf)
    assert sorted(Chem.MolToSmiles(mol) for mol in supplier) == smiles
    rows = list(csv.DictReader(io.StringIO(table)))
    assert sorted(row["smiles"] for row in rows) == smiles


async def test_sequences_export_as_fasta(isolated_home: Path) -> None:
    toolkit = scripted_toolkit(isolated_home, ["IAKQRQ<ProteinE>", "IAKW<ProteinE>"])
    async with Client(build_server(toolkit)) as client:
        result = await client.call_tool("complete_sequence", {"prefix": "MKTAY", "num_samples": 2, "seed": 1})
        assert result.structured_content is not None
        fasta = await _text(client, f"logos://results/{result.structured_content['result_id']}/fasta")
    sequences = [line for line in fasta.splitlines() if not line.startswith(">")]
    assert sorted(sequences) == ["MKTAYIAKQRQ", "MKTAYIAKW"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("logos://results/r-000000000000", "r-000000000000"),
        ("logos://results/not-an-id", "is not a result id"),
        ("logos://jobs/j-000000000000", "No job 'j-000000000000'"),
        ("logos://schemas/no_such_tool", "No tool named 'no_such_tool'"),
    ],
)
async def test_unknown_ids_are_errors_that_say_what_is_missing(
    isolated_home: Path, uri: str, message: str
) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        with pytest.raises(MCPError, match=message):
            await client.read_resource(uri)


async def test_a_result_without_molecules_says_so_when_asked_for_sdf(isolated_home: Path) -> None:
    toolkit = scripted_toolkit(isolated_home, ["IAKW<ProteinE>"])
    async with Client(build_server(toolkit)) as client:
        result = await client.call_tool("complete_sequence", {"prefix": "MKTAY", "num_samples": 1})
        assert result.structured_content is not None
        with pytest.raises(MCPError, match="holds no molecules") as refused:
            await client.read_resource(f"logos://results/{result.structured_content['result_id']}/sdf")
    assert "logos://results/{result_id} holds a whole result as JSON" in refused.value.message


async def test_a_scoring_result_offers_only_the_exports_that_have_something_to_write(
    isolated_home: Path,
) -> None:
    objects = [{"kind": "reaction", "value": "CCO>>CC=O"}, {"kind": "protein", "value": "MKTAY"}]
    async with Client(build_server(scripted_toolkit(isolated_home, [""]), images=False)) as client:
        result = await client.call_tool("score_objects", {"objects": objects})
        assert result.structured_content is not None, result
        result_id = result.structured_content["result_id"]
        table = await _text(client, f"logos://results/{result_id}/csv")
        fasta = await _text(client, f"logos://results/{result_id}/fasta")
        with pytest.raises(MCPError) as refused:
            await client.read_resource(f"logos://results/{result_id}/sdf")
    hints = [line for line in text_of(result).splitlines() if line.startswith("Resources:")]
    assert hints == [
        f"Resources: logos://results/{result_id} (JSON); exports logos://results/{result_id}/csv, "
        f"logos://results/{result_id}/fasta."
    ]
    assert sorted(row["kind"] for row in csv.DictReader(io.StringIO(table))) == ["protein", "reaction"]
    assert fasta.splitlines()[1] == "MKTAY"
    assert refused.value.message.startswith(f"Result {result_id} (score_objects) holds no molecules")
    assert "Formats that hold its records: csv (a table of 2 records), fasta (1 sequence)" in (
        refused.value.message
    )


@pytest.mark.parametrize("uri", ["logos://results/r-000000000000", "logos://results/not-an-id/csv"])
async def test_refused_result_reads_point_at_the_results_resource_not_only_at_the_cli(
    isolated_home: Path, uri: str
) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri)
    assert "Over MCP, logos://results lists the recent result ids" in refused.value.message


@pytest.mark.parametrize(
    "uri", ["logos://nothing", "logos://results/r-000000000000/xyz", "logos://results/../etc/passwd"]
)
async def test_an_unknown_resource_uri_is_refused_with_the_resources_there_are(
    isolated_home: Path, uri: str
) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri)
        assert (await client.read_resource("logos://grammar")).contents  # still serving
    message = refused.value.message
    assert message.startswith(f"Unknown resource {uri!r}. Read one of: logos://grammar, logos://models")
    assert "logos://results/{result_id}/sdf" in message
    assert "logos://schemas/{tool}" in message


async def test_the_schema_resource_holds_the_complete_result_schema(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=False)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 2})
        schema: dict[str, Any] = json.loads(await _text(client, "logos://schemas/generate_molecules"))
    jsonschema.Draft202012Validator(schema).validate(result.structured_content)
    molecule = schema["$defs"]["GeneratedMolecule"]["properties"]
    assert molecule["perplexity"]["description"].startswith("Best whole-text perplexity")
    broken = dict(result.structured_content or {}, molecules=[{"smiles": 5}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


async def test_resource_template_arguments_complete_to_stored_ids_and_tool_names(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, MOLECULES), images=False)) as client:
        result = await client.call_tool("generate_molecules", {"num_molecules": 1})
        assert result.structured_content is not None
        result_template = ResourceTemplateReference(type="ref/resource", uri="logos://results/{result_id}")
        ids = await client.complete(result_template, {"name": "result_id", "value": "r-"})
        none = await client.complete(result_template, {"name": "result_id", "value": "r-zz"})
        schema_template = ResourceTemplateReference(type="ref/resource", uri="logos://schemas/{tool}")
        tools = await client.complete(schema_template, {"name": "tool", "value": "generate_"})
        prompt = await client.complete(
            PromptReference(type="ref/prompt", name="mof_screen"), {"name": "count", "value": ""}
        )
    assert ids.completion.values == [result.structured_content["result_id"]]
    assert none.completion.values == []
    assert tools.completion.values == ["generate_mofs", "generate_molecules"]
    assert prompt.completion.values == []
