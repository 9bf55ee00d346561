"""The toolkit's methods as MCP tools, built from their signatures, docstrings and return types.

Nothing here lists tools or schemas by hand: every method of ``Toolkit.tools()`` becomes one MCP tool.

- Input schema: the method's annotated parameters. Arguments are checked by the toolkit itself (its
  ``@tool`` validation), so a bad argument comes back in the one wording every adapter shares
  (``agent_message``) instead of pydantic's raw report; unknown argument names are refused too.
- Output schema: the return annotation. Each result carries structured content, a complete text
  rendering and, for molecules, a PNG grid (``content.tool_result``).
- Long calls: the toolkit call runs on a worker thread inside ``call_scope`` with a progress relay and a
  ``CancelToken``. An MCP cancellation cancels this coroutine; the token then stops the generation at its
  next decode step (a sync tool would keep the thread, and the model lock, until it finished).
- Errors: any exception becomes a ``ToolError`` with the agent-facing message (only ``ToolError`` text
  reaches the client; anything else is masked by the SDK).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import ConfigDict, Field, WrapValidator, create_model

from logos_tools.errors import LogosError
from logos_tools.mcp_server.content import tool_result
from logos_tools.runtime.base import CancelToken
from logos_tools.tasks.common import TaskResult
from logos_tools.toolkit.calls import call_scope
from logos_tools.toolkit.messages import agent_message
from logos_tools.toolkit.toolkit import Toolkit

logger = logging.getLogger(__name__)

CONTEXT_PARAMETER = "mcp_request_context"  # receives the SDK's Context; never part of the input schema
SHADOWED_CONTEXT = "\0" + CONTEXT_PARAMETER  # a client argument of that name, kept aside to be refused
PROGRESS_INTERVAL_S = 0.5
_SCHEMA_VALUE_KEYS = frozenset({"default", "const", "enum", "examples"})


class _Unset:
    """Marks an argument the client did not send, so the toolkit applies its own default."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class ToolSpec:
    """One toolkit method as the MCP adapter sees it."""

    name: str
    method: Callable[..., Any]
    signature: inspect.Signature  # bound: no ``self``; annotations evaluated
    result_type: Any
    description: str

    @classmethod
    def of(cls, method: Callable[..., Any]) -> ToolSpec:
        """Read a bound toolkit method.

        Raises:
            TypeError: the method has no return annotation, or a parameter clashes with the context name.
        """
        signature = inspect.signature(method, eval_str=True)
        if signature.return_annotation is inspect.Signature.empty:
            raise TypeError(
                f"Toolkit method {method.__name__} needs a return annotation to become an MCP tool."
            )
        if CONTEXT_PARAMETER in signature.parameters:
            raise TypeError(
                f"Toolkit method {method.__name__} uses the reserved parameter {CONTEXT_PARAMETER!r}."
            )
        return cls(
            name=method.__name__,
            method=method,
            signature=signature,
            result_type=signature.return_annotation,
            description=describe(method),
        )


def describe(method: Callable[..., Any]) -> str:
    """The agent-facing description: the docstring without a ``Raises:`` section."""
    doc = inspect.cleandoc(method.__doc__ or "")
    kept = []
    for paragraph in doc.split("\n\n"):
        if paragraph.lstrip().startswith(("Raises:", "Returns:")):
            continue
        kept.append(paragraph)
    return "\n\n".join(kept).strip()


def annotations_for(spec: ToolSpec) -> ToolAnnotations:
    """Honest behaviour hints, derived from what the method does.

    - A tool returning a task result records it in the local results store (an append-only SQLite log)
      and may start a background job: not read-only, but never destructive.
    - ``get_job`` (any tool with a ``cancel`` argument) can stop a background job: not read-only either;
      stopping a job deletes nothing stored, so not destructive.
    - Tools that sample (they take a ``seed``) draw new samples on every call unless a seed is passed,
      and a hint cannot depend on the arguments: not idempotent. Tools without sampling (scoring, model
      list, job status) answer the same arguments the same way: idempotent.
    - Everything runs on the local model and files: closed world.
    """
    result_type = spec.result_type
    records = isinstance(result_type, type) and issubclass(result_type, TaskResult)
    stops_jobs = "cancel" in spec.signature.parameters
    read_only = not records and not stops_jobs
    return ToolAnnotations(
        title=spec.name.replace("_", " ").capitalize(),
        read_only_hint=read_only,
        destructive_hint=None if read_only else False,
        idempotent_hint="seed" not in spec.signature.parameters,
        open_world_hint=False,
    )


# -- argument handling -------------------------------------------------------------------------------
def _keep_as_given(value: Any, _handler: Any) -> Any:
    return value


class _ToolkitChecksArguments(ArgModelBase):
    """Accepts any argument values (the toolkit checks them) and keeps unknown names for it to refuse."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        arguments = super().model_dump_one_level()
        extra = dict(self.model_extra or {})
        if CONTEXT_PARAMETER in extra:  # the SDK's context would silently replace it: keep it to refuse
            extra[SHADOWED_CONTEXT] = extra.pop(CONTEXT_PARAMETER)
        arguments.update(extra)
        return arguments


def lenient_arguments(strict: type[ArgModelBase]) -> type[ArgModelBase]:
    """A model with the strict model's fields and aliases that lets every value through unchecked.

    A field declared plain ``str`` stays ``str`` to the SDK, which only pre-parses JSON-looking strings
    (hosts send lists as JSON text) for non-string fields; the wrap validator skips the actual check.
    """
    fields: dict[str, Any] = {}
    for name, info in strict.model_fields.items():
        annotation: Any = Annotated[str, WrapValidator(_keep_as_given)] if info.annotation is str else Any
        fields[name] = (annotation, Field(default=UNSET, alias=info.alias))
    model: type[ArgModelBase] = create_model(strict.__name__, __base__=_ToolkitChecksArguments, **fields)
    return model


def compact_schema(schema: Any) -> Any:
    """The schema without pydantic's generated ``title`` keys (a third of tools/list for no information)."""
    if isinstance(schema, dict):
        return {
            key: (value if key in _SCHEMA_VALUE_KEYS else compact_schema(value))
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    return schema


def optional_without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Advertise ``X | None = None`` parameters as plain optional ``X``.

    Leaving such a parameter out means None, so the ``anyOf [X, null]`` and ``default: null`` spelled
    out on some 60 parameters only cost context. An explicit null is still accepted.
    """
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        members = prop.get("anyOf")
        if (
            name not in schema.get("required", [])
            and prop.get("default", ...) is None
            and isinstance(members, list)
            and len(members) == 2
            and {"type": "null"} in members
        ):
            (kept,) = [member for member in members if member != {"type": "null"}]
            properties[name] = {k: v for k, v in prop.items() if k not in ("anyOf", "default")} | kept
        else:
            properties[name] = prop
    return schema | {"properties": properties}


def _json_type(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON type(s) a property schema allows, ``{}`` (anything) when it cannot say simply."""
    if "$ref" in schema:
        return {"type": "object"}
    members = schema.get("anyOf") or schema.get("oneOf")
    if members:
        kinds = [_json_type(member).get("type") for member in members]
        if any(kind is None or isinstance(kind, list) for kind in kinds):
            return {}
        return {"type": kinds if len(kinds) > 1 else kinds[0]}
    kind = schema.get("type")
    if kind is None:
        return {}
    if kind == "array" and isinstance(schema.get("items"), dict):
        return {"type": "array", "items": _json_type(schema["items"])}
    return {"type": kind}


def outline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The result's top-level fields and their JSON types: what tools/list advertises as outputSchema.

    The complete schema (every nested field with its description) costs an agent's context about 15k
    tokens across the tools; the outline is a correct, looser schema for the same results, and the
    complete one is the ``logos://schemas/{tool}`` resource.
    """
    properties = {name: _json_type(prop) for name, prop in schema.get("properties", {}).items()}
    outline: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        outline["required"] = list(schema["required"])
    return outline


# -- progress ----------------------------------------------------------------------------------------
class ProgressRelay:
    """Forwards the toolkit's progress (reported on the worker thread) as MCP progress notifications.

    The progress value is seconds elapsed and the total is the call's time budget, so the value always
    grows (as the protocol requires) and a host can show how long the call may still take; the
    toolkit's own words ("retrosynthesis: 12/32 samples") travel as the message.
    """

    def __init__(self, context: Context[Any, Any], total_s: float | None) -> None:
        self._context = context
        self._total_s = total_s
        self._started = time.monotonic()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, done: float, total: float | None, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < PROGRESS_INTERVAL_S:
                return
            self._last = now
        try:
            anyio.from_thread.run(
                self._context.report_progress, round(now - self._started, 2), self._total_s, message
            )
        except Exception:  # a lost progress note must never stop the generation it describes
            logger.debug("Progress notification not sent", exc_info=True)


def _shown_name(name: str) -> str:
    if name == SHADOWED_CONTEXT:
        return CONTEXT_PARAMETER
    return name or repr(name)


# -- the adapter ---------------------------------------------------------------------------------------
class ToolAdapter:
    """Runs one toolkit method for MCP calls."""

    def __init__(self, toolkit: Toolkit, spec: ToolSpec, *, images: bool) -> None:
        self.toolkit, self.spec, self.images = toolkit, spec, images

    def budget_s(self, arguments: dict[str, Any]) -> float | None:
        """The call's time budget in seconds (None for tools without one)."""
        if "time_budget_s" not in self.spec.signature.parameters:
            return None
        given = arguments.get("time_budget_s")
        return float(given) if isinstance(given, (int, float)) else self.toolkit.settings.time_budget_s

    def unknown_arguments(self, names: Iterable[str]) -> str | None:
        """The refusal for argument names the tool does not have, or None when every name is known.

        The toolkit refuses unknown names too, but not every name reaches it intact: ``self`` would
        bind to the method itself, the context parameter's name is the SDK's, and an empty name
        leaves pydantic nothing to report.
        """
        known = list(self.spec.signature.parameters)
        unknown = [name for name in names if name not in known]
        if not unknown:
            return None
        shown = "; ".join(f"{_shown_name(name)} is not an argument of this tool" for name in unknown)
        listed = f"its arguments: {', '.join(known)}" if known else "it takes no arguments"
        return f"Invalid arguments: {shown} ({listed}). Fix these values and call again."

    async def __call__(self, context: Context[Any, Any], given: dict[str, Any]) -> CallToolResult:
        refusal = self.unknown_arguments(given)
        if refusal:
            raise ToolError(refusal)
        arguments = {name: value for name, value in given.items() if value is not UNSET}
        cancel = CancelToken()
        progress = ProgressRelay(context, self.budget_s(arguments))
        method = self.spec.method

        def run() -> Any:
            with call_scope(progress=progress, cancel=cancel):
                return method(**arguments)

        try:
            # abandon_on_cancel: an MCP cancel must reach the except branch now, not when sampling ends.
            result = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.cancel()
            logger.info("Tool %s cancelled by the client; generation stops at its next step.", self.spec.name)
            raise
        except Exception as exc:
            if not isinstance(exc, LogosError):
                logger.exception("Tool %s failed unexpectedly", self.spec.name)
            raise ToolError(agent_message(exc, self.spec.name)) from exc
        return await anyio.to_thread.run_sync(
            lambda: tool_result(result, self.spec.result_type, images=self.images)
        )

    def function(self) -> Callable[..., Any]:
        """An async function whose signature is the method's plus the SDK context, for ``Tool.from_function``."""
        parameters = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in self.spec.signature.parameters.values()
        ]
        parameters.append(
            inspect.Parameter(CONTEXT_PARAMETER, inspect.Parameter.KEYWORD_ONLY, annotation=Context)
        )
        returns = Annotated[CallToolResult, self.spec.result_type]

        async def call(**kwargs: Any) -> CallToolResult:
            # The client's names stay inside one dict: as keywords, a name like 'self' would collide.
            context: Context[Any, Any] = kwargs.pop(CONTEXT_PARAMETER)
            return await self(context, kwargs)

        call.__name__ = call.__qualname__ = self.spec.name
        call.__doc__ = self.spec.description
        call.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        call.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
        return call

    def tool(self) -> tuple[Tool, dict[str, Any]]:
        """The SDK tool (strict input schema, outlined output schema, arguments left to the toolkit's
        own checks) and the complete output schema."""
        tool = Tool.from_function(
            self.function(),
            name=self.spec.name,
            description=self.spec.description,
            annotations=annotations_for(self.spec),
            structured_output=True,
        )
        metadata = tool.fn_metadata
        full_schema: dict[str, Any] = compact_schema(metadata.output_schema or {})
        tool.fn_metadata = metadata.model_copy(
            update={
                "arg_model": lenient_arguments(metadata.arg_model),
                "output_schema": outline_schema(metadata.output_schema or {}),
            }
        )
        tool.parameters = optional_without_null(compact_schema(tool.parameters)) | {
            "additionalProperties": False
        }
        return tool, full_schema


@dataclass(frozen=True)
class ToolSet:
    """The MCP tools, and the complete output schema of each (served as ``logos://schemas/{tool}``)."""

    tools: list[Tool]
    output_schemas: dict[str, dict[str, Any]]


def toolkit_tools(toolkit: Toolkit, *, images: bool) -> ToolSet:
    """One MCP tool per toolkit tool, in the toolkit's order.

    Raises:
        TypeError: a toolkit method cannot be described as a tool (no return annotation, reserved name).
    """
    tools, schemas = [], {}
    for method in toolkit.tools():
        tool, schema = ToolAdapter(toolkit, ToolSpec.of(method), images=images).tool()
        tools.append(tool)
        schemas[tool.name] = schema
    return ToolSet(tools=tools, output_schemas=schemas)
