"""Design-loop prompts: listed with their arguments, rendered with the caller's values, naming real tools."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, TextContent

from logos_tools.mcp_server.prompts import PROMPT_TOOLS, mof_screen, pocket_to_lead, retrosynthesis_tree
from logos_tools.mcp_server.server import build_server
from logos_tools.toolkit import TOOL_NAMES
from logos_tools.toolkit.toolkit import Toolkit
from tests.mcp_server.conftest import scripted_toolkit

pytestmark = pytest.mark.anyio


async def test_the_three_design_loops_are_listed_with_their_arguments(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
    assert set(prompts) == {"pocket_to_lead", "retrosynthesis_tree", "mof_screen"}
    arguments = {
        name: [(a.name, a.required) for a in prompt.arguments or []] for name, prompt in prompts.items()
    }
    assert arguments == {
        "pocket_to_lead": [("structure", True), ("pocket", False), ("count", False)],
        "retrosynthesis_tree": [("target", True), ("depth", False)],
        "mof_screen": [("metal_node", False), ("count", False)],
    }
    assert all(prompt.description for prompt in prompts.values())


async def test_a_prompt_renders_the_callers_values_into_its_plan(isolated_home: Path) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        rendered = await client.get_prompt(
            "pocket_to_lead", {"structure": "1hvr.pdb", "pocket": "XK2", "count": "5"}
        )
    (message,) = rendered.messages
    assert isinstance(message.content, TextContent)
    text = message.content.text
    assert "structure_path='1hvr.pdb'" in text
    assert "num_molecules=5" in text
    assert "'XK2'" in text


def test_prompts_name_only_real_tools_and_arguments() -> None:
    texts = " ".join(
        [
            pocket_to_lead("a.pdb"),
            pocket_to_lead("a.pdb", "XK2"),
            retrosynthesis_tree("CCO"),
            mof_screen("[Zn]"),
        ]
    )
    assert set(PROMPT_TOOLS) <= set(TOOL_NAMES)
    assert all(re.search(rf"\b{tool}\b", texts) for tool in PROMPT_TOOLS)
    parameters = {
        name for tool in TOOL_NAMES for name in inspect.signature(getattr(Toolkit, tool)).parameters
    }
    result_fields = {"job_id", "result_id"}
    for word in re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", texts):
        assert word in set(TOOL_NAMES) | parameters | result_fields, (
            f"prompts mention {word!r}, which is no tool or argument"
        )


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "pocket_to_lead",
            {},
            "Prompt 'pocket_to_lead': 'structure' is required (PDB or mmCIF path inside the server's allowed "
            "folders.). Its arguments: structure (required), pocket (optional), count (optional).",
        ),
        ("pocket_to_lead", {"structure": ""}, "'structure' is required"),
        ("mof_screen", {"metal": "[Zn]"}, "Prompt 'mof_screen': 'metal' is not an argument of it."),
        (
            "no_such_prompt",
            {},
            "Unknown prompt 'no_such_prompt'. Prompts: pocket_to_lead, retrosynthesis_tree",
        ),
        (
            "pocket_to_lead",
            {"structure": "1hvr.pdb", "count": "banana"},
            "count='banana' must be a whole number from 1 to 200",
        ),
        ("mof_screen", {"count": "0"}, "count='0' must be a whole number from 1 to 200"),
        (
            "retrosynthesis_tree",
            {"target": "CCO", "depth": "9"},
            "depth='9' must be a whole number from 1 to 3",
        ),
        ("retrosynthesis_tree", {"target": " ", "depth": "2"}, "target is empty. Pass the SMILES"),
        (
            "pocket_to_lead",
            {"structure": "1hvr.pdb", "pocket": "the big groove"},
            "pocket='the big groove' is neither residue numbers",
        ),
    ],
)
async def test_a_prompt_refusal_names_the_argument_and_the_fix_and_the_server_keeps_serving(
    isolated_home: Path, name: str, arguments: dict[str, str], message: str
) -> None:
    async with Client(build_server(scripted_toolkit(isolated_home, [""]))) as client:
        with pytest.raises(MCPError) as refused:
            await client.get_prompt(name, arguments)
        assert (await client.get_prompt("mof_screen", {})).messages  # still serving
    assert refused.value.code == INVALID_PARAMS
    assert message in refused.value.message


def test_a_given_pocket_becomes_the_design_ligands_argument_it_is() -> None:
    assert "pass residues=['45', '88', '120'] to design_ligands" in pocket_to_lead("a.pdb", "45, 88,120")
    assert "pass residues=['25', '27A'] to design_ligands" in pocket_to_lead("a.pdb", "25 27A")
    assert "pass ligand='XK2' to design_ligands" in pocket_to_lead("a.pdb", "xk2")
    assert "`chain`" in pocket_to_lead("a.pdb")  # multi-chain structures need it with residues
