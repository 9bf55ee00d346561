"""The LOGOS MCP server: the toolkit's tools, resources and design-loop prompts on one ``MCPServer``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult
from pydantic import AnyUrl

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


class LogosServer(MCPServer[Any]):
    """``MCPServer`` whose refusals say what exists: the SDK answers an unknown tool, resource or
    prompt, or a prompt's missing argument, without naming what the client could use instead (and a
    prompt refusal even as a bare "Internal server error")."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Call a tool; an unknown name is refused with the list of tools.

        Raises:
            ToolError: unknown tool (and whatever the SDK raises for the call itself).
        """
        names = [tool.name for tool in await self.list_tools()]
        if name not in names:
            raise ToolError(
                f"Unknown tool: {name!r} is not a tool of this server. Call one of: {', '.join(names)}."
            )
        return await super().call_tool(name, arguments, context)

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        """Read a resource; an unknown URI is refused with the resources and templates there are.

        Raises:
            ResourceNotFoundError: no resource or template matches ``uri`` (or the read refused it).
            ResourceError: the read failed.
        """
        try:
            return await super().read_resource(uri, context)
        except ResourceNotFoundError as exc:
            if not str(exc).startswith("Unknown resource"):
                raise  # a template matched and the read itself refused: its message says why
            known = [str(resource.uri) for resource in await self.list_resources()]
            known += [template.uri_template for template in await self.list_resource_templates()]
            raise ResourceNotFoundError(
                f"Unknown resource {str(uri)!r}. Read one of: {', '.join(known)} "
                "(fill {placeholders} with a result_id, job_id or tool name)."
            ) from exc

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """Render a prompt; an unknown prompt, an unknown argument or a missing one is refused by name.

        Raises:
            MCPError: INVALID_PARAMS for an unknown prompt, an unknown argument or a missing required one.
        """
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        if name not in prompts:
            raise MCPError(
                INVALID_PARAMS, f"Unknown prompt {name!r}. Prompts: {', '.join(prompts)}.", {"prompt": name}
            )
        declared = {argument.name: argument for argument in prompts[name].arguments or []}
        given = arguments or {}
        unknown = [key for key in given if key not in declared]
        missing = [key for key, argument in declared.items() if argument.required and not given.get(key)]
        if unknown or missing:
            problems = [f"{key!r} is not an argument of it" for key in unknown]
            problems += [
                f"{key!r} is required"
                + (f" ({declared[key].description})" if declared[key].description else "")
                for key in missing
            ]
            raise MCPError(
                INVALID_PARAMS,
                f"Prompt {name!r}: {'; '.join(problems)}. Its arguments: "
                + ", ".join(
                    f"{key} ({'required' if a.required else 'optional'})" for key, a in declared.items()
                )
                + ".",
                {"prompt": name},
            )
        return await super().get_prompt(name, arguments, context)


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
    server = LogosServer(
        SERVER_NAME,
        title="LOGOS tools",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=tool_set.tools,
    )
    register_resources(server, toolkit, output_schemas=tool_set.output_schemas)
    register_prompts(server)
    return server
