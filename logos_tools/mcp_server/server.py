"""The LOGOS MCP server: the toolkit's tools, resources and design-loop prompts on one ``MCPServer``."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from logos_tools import __version__
from logos_tools.mcp_server.prompts import register_prompts
from logos_tools.mcp_server.resources import register_resources
from logos_tools.mcp_server.tools import toolkit_tools
from logos_tools.toolkit.toolkit import Toolkit

SERVER_NAME = "logos"
INSTRUCTIONS = (
    "LOGOS generative science model tools (molecules, reactions, protein pockets, ligands, MOFs), running "
    "locally. Each result is checked (RDKit, Biopython, pymatgen), ranked, stored under a result_id and "
    "readable as logos://results/{id}. A call that runs out of its time budget returns a PARTIAL result "
    "with a job_id: poll get_job for the rest. The complete schema of each tool's result is the resource "
    "logos://schemas/{tool}. Results from the built-in demo model say so and are not "
    "scientifically meaningful. The grammar reference is the logos://grammar resource."
)


def build_server(toolkit: Toolkit | None = None, *, images: bool | None = None) -> MCPServer[Any]:
    """An MCP server over ``toolkit`` (default: one built from the environment's settings).

    No model is loaded here: the toolkit opens its backend on the first tool call, so ``tools/list``
    answers at once. ``images`` (default: the settings' ``mcp_images``) attaches PNG molecule grids.

    Raises:
        InputError: an environment variable holds a bad value.
        ProfileError: the grammar profile is malformed.
    """
    toolkit = toolkit or Toolkit()
    show_images = toolkit.settings.mcp_images if images is None else images
    tool_set = toolkit_tools(toolkit, images=show_images)
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="LOGOS tools",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=tool_set.tools,
    )
    register_resources(server, toolkit, output_schemas=tool_set.output_schemas)
    register_prompts(server)
    return server
