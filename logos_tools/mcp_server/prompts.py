"""Design-loop prompts: short, parameterised plans that name the tools to call and what to check.

Prompt arguments arrive as strings (MCP prompts have no typed arguments), so counts are strings too.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
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
    """From a protein pocket to a synthesizable lead: find the pocket, design ligands, pick one, plan its route."""
    locate = (
        f"1. The pocket is {pocket!r}: pass it to design_ligands as `ligand` (a residue name) or `residues`."
        if pocket
        else f"1. Call find_binding_sites with structure_path={structure!r}; use the top site's residue "
        "numbers as `residues`."
    )
    return "\n".join(
        [
            f"Design a synthesizable lead for the protein in {structure!r}.",
            locate,
            f"2. Call design_ligands with structure_path={structure!r}, that pocket, num_molecules={count} "
            "and drug-like limits (e.g. min_qed 0.5, max_sa 4, lipinski true, no_pains true).",
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
    """Expand a multi-step retrosynthesis tree, checking every step in the forward direction."""
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
    """Screen generated metal-organic frameworks: generate, keep valid novel ones, rank by likelihood."""
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
