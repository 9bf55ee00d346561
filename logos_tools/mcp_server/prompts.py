"""Design-loop prompts: short, parameterised plans that name the tools to call and what to check.

Prompt arguments arrive as strings (MCP prompts have no typed arguments), so counts are strings too;
each is checked here (a plan asking a tool for 'banana' molecules would only fail later, in the tool).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

# The tool names these prompts mention; a test checks each is a real tool.
PROMPT_TOOLS = (
    "find_binding_sites",
    "design_ligands",
    "score_objects",
    "retrosynthesis",
    "predict_reaction",
    "generate_mofs",
    "get_job",
)

_LONG_CALLS = (
    "If a result says PARTIAL with a job_id, the rest is still running: call get_job with that job_id "
    "until it is complete before drawing conclusions. Every result has a result_id; quote it in your summary."
)


_RESIDUE_NUMBERS = re.compile(r"^\s*-?\d+[A-Za-z]?(?:\s*[,;\s]\s*-?\d+[A-Za-z]?)*\s*$")
_SEPARATORS = re.compile(r"[,;\s]+")
_LIGAND_NAME = re.compile(r"^[A-Za-z0-9]{1,3}$")


def _refuse(prompt: str, message: str) -> MCPError:
    return MCPError(INVALID_PARAMS, f"Prompt {prompt!r}: {message}", {"prompt": prompt})


def _whole_number(prompt: str, argument: str, value: str, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``.

    Raises:
        MCPError: INVALID_PARAMS naming the argument, the value and the range.
    """
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d+", text) or not low <= int(text) <= high:
        raise _refuse(
            prompt, f"{argument}={value!r} must be a whole number from {low} to {high}, e.g. '{low}'."
        )
    return int(text)


def _pocket_arguments(pocket: str) -> str:
    """The design_ligands arguments that name ``pocket``: residue numbers, or a bound ligand's name.

    Raises:
        MCPError: INVALID_PARAMS when ``pocket`` is neither.
    """
    if _RESIDUE_NUMBERS.match(pocket):
        numbers = _SEPARATORS.split(pocket.strip())
        return f"residues={numbers!r}"
    if _LIGAND_NAME.match(pocket.strip()):
        return f"ligand={pocket.strip().upper()!r}"
    raise _refuse(
        "pocket_to_lead",
        f"pocket={pocket!r} is neither residue numbers (e.g. '45,88,120') nor a bound ligand's residue name "
        "(1 to 3 letters or digits, e.g. 'ATP'). Pass one of those, or leave it empty to search for the pocket.",
    )


def pocket_to_lead(
    structure: Annotated[str, Field(description="PDB or mmCIF path inside the server's allowed folders.")],
    pocket: Annotated[
        str,
        Field(
            description="The pocket: a bound ligand's residue name (e.g. 'ATP'), residue numbers "
            "(e.g. '45,88,120'), or empty to search for it."
        ),
    ] = "",
    count: Annotated[str, Field(description="How many ligands to design.")] = "10",
) -> str:
    """From a protein pocket to a synthesizable lead: find the pocket, design ligands, pick one, plan its route.

    Raises:
        MCPError: INVALID_PARAMS for a ``pocket`` or ``count`` the tools would refuse.
    """
    molecules = _whole_number("pocket_to_lead", "count", count, 1, 200)  # design_ligands' num_molecules
    if not structure.strip():
        raise _refuse("pocket_to_lead", "structure is empty. Pass the path of a PDB or mmCIF file.")
    locate = (
        f"1. The pocket is given: pass {_pocket_arguments(pocket)} to design_ligands."
        if pocket.strip()
        else f"1. Call find_binding_sites with structure_path={structure!r} (add `chain` if it asks for "
        "one); use the top site's residue numbers, as strings, as `residues`."
    )
    return "\n".join(
        [
            f"Design a synthesizable lead for the protein in {structure!r}.",
            locate,
            f"2. Call design_ligands with structure_path={structure!r}, that pocket, num_molecules={molecules} "
            "and drug-like limits (e.g. min_qed 0.5, max_sa 4, lipinski true, no_pains true). With "
            "`residues` on a structure of several protein chains, pass the pocket's `chain` too.",
            "3. Call score_objects on the passing molecules to compare their likelihood; weigh QED, SA "
            "score and novelty from step 2.",
            "4. For the best two, call retrosynthesis; keep reactant sets whose atoms are accounted for, then "
            "call predict_reaction on those reactants to check the route gives the lead back.",
            "5. Report a table: SMILES, QED, SA, perplexity, best route, and the result ids you used.",
            _LONG_CALLS,
        ]
    )


def retrosynthesis_tree(
    target: Annotated[str, Field(description="SMILES of the molecule to make.")],
    depth: Annotated[str, Field(description="How many steps back to expand (1 to 3).")] = "2",
) -> str:
    """Expand a multi-step retrosynthesis tree, checking every step in the forward direction.

    Raises:
        MCPError: INVALID_PARAMS for an empty ``target`` or a ``depth`` outside 1 to 3.
    """
    depth = str(_whole_number("retrosynthesis_tree", "depth", depth, 1, 3))
    if not target.strip():
        raise _refuse("retrosynthesis_tree", "target is empty. Pass the SMILES of the molecule to make.")
    return "\n".join(
        [
            f"Build a retrosynthesis tree for {target!r}, {depth} steps deep.",
            "1. Call retrosynthesis on the target. Keep the top three reactant sets whose atoms are accounted for.",
            "2. For each kept set, call predict_reaction on its reactants; keep the step only if the target is "
            "among the top predicted products.",
            "3. For each reactant that is not a simple commercial building block, repeat steps 1-2 until the "
            f"tree is {depth} steps deep.",
            "4. Show the tree (indented, one reaction per line with its frequency and forward check) and the "
            "most promising complete route.",
            _LONG_CALLS,
        ]
    )


def mof_screen(
    metal_node: Annotated[
        str, Field(description="Metal node SMILES to condition on, e.g. '[Zn]'; empty for any.")
    ] = "",
    count: Annotated[str, Field(description="How many distinct valid materials to aim for.")] = "20",
) -> str:
    """Screen generated metal-organic frameworks: generate, keep valid novel ones, rank by likelihood.

    Raises:
        MCPError: INVALID_PARAMS for a ``count`` outside what generate_mofs accepts (1 to 200).
    """
    count = str(_whole_number("mof_screen", "count", count, 1, 200))  # generate_mofs' num_materials
    metal_node = metal_node.strip()
    node = f" on the metal node {metal_node!r}" if metal_node else ""
    return "\n".join(
        [
            f"Screen metal-organic frameworks{node}.",
            f"1. Call generate_mofs with num_materials={count}"
            + (f" and metal_node={metal_node!r}." if metal_node else "."),
            "2. Keep the materials that are valid (every error check passed) and novel; note their charge "
            "balance and whether they embedded in 3D.",
            "3. Call score_objects with the kept materials (kind 'material', value {node, linkers}) to rank them.",
            "4. Report a table: node, linkers, formula, net charge, perplexity, and the result ids.",
            _LONG_CALLS,
        ]
    )


def register_prompts(server: MCPServer[Any]) -> None:
    """Add the design-loop prompts to ``server``."""
    server.prompt(title="Pocket to synthesizable lead")(pocket_to_lead)
    server.prompt(title="Retrosynthesis tree")(retrosynthesis_tree)
    server.prompt(title="MOF screen")(mof_screen)
