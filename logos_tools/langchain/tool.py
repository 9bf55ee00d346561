"""One LOGOS toolkit method as a native LangChain tool.

The agent reads the text (``render_text``: complete on its own); code reads the artifact, the
structured result as JSON (the same JSON an MCP host gets as structured content). A bad argument or a
failed call raises ``ToolException`` with the words the MCP server uses (``agent_message``).
Async calls run the blocking model call on a thread of their own, so the event loop keeps running
while the model samples, and the loop's default executor stays free: calls queue on the one model, so
a dozen calls in flight would otherwise hold every default worker, and LangChain's sync callbacks,
sync graph nodes and ``asyncio.to_thread`` would wait behind them. Cancelling the awaiting task stops
the generation at its next decode step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools.base import ToolExceptionHandlerOutput
from pydantic import Field, TypeAdapter
from pydantic_core import to_jsonable_python

from logos_tools.errors import LogosError
from logos_tools.langchain.progress import async_reporter, sync_reporter
from logos_tools.langchain.schema import arguments_model, describe, tool_method
from logos_tools.langchain.schema import result_type as method_result_type
from logos_tools.runtime.base import CancelToken
from logos_tools.settings import Settings
from logos_tools.tasks.common import ProgressReporter
from logos_tools.toolkit import Toolkit
from logos_tools.toolkit.calls import call_scope
from logos_tools.toolkit.messages import agent_message
from logos_tools.toolkit.rendering import render_text

logger = logging.getLogger(__name__)

T = TypeVar("T")


_ENVIRONMENT_TOOLKITS: dict[Settings, Toolkit] = {}
_ENVIRONMENT_LOCK = threading.Lock()


def environment_toolkit() -> Toolkit:
    """The toolkit of the current ``LOGOS_*`` environment, one per distinct settings, shared.

    Every tool built without a toolkit uses it, so such tools work together as ``LogosToolkit``'s
    do: one loaded model, one store, and ``get_job`` finds the job another tool's call started.

    Raises:
        InputError: a ``LOGOS_*`` variable is invalid.
    """
    settings = Settings.from_env()
    with _ENVIRONMENT_LOCK:
        toolkit = _ENVIRONMENT_TOOLKITS.get(settings)
        if toolkit is None:
            toolkit = _ENVIRONMENT_TOOLKITS[settings] = Toolkit(settings)
        return toolkit


def start_call_thread(tool: str, call: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``call`` on a new thread of its own (named after the tool); its future.

    Not the loop's default executor: a call mostly waits for the model, and waiting there would
    starve everything else that runs on that executor. The thread ends with the call.
    """
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = call()
        except BaseException as exc:  # handed to the awaiting task, which re-raises it
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=f"logos-{tool}").start()
    return future


class LogosTool(BaseTool):
    """A LOGOS tool: ``LogosTool("retrosynthesis", toolkit)``.

    Name, description and argument schema come from the toolkit method of that name. Tools made
    from the same ``Toolkit`` share its loaded model, results store and background jobs
    (``LogosToolkit`` does that for every tool at once); tools built without a toolkit share the one
    of the ``LOGOS_*`` environment (``environment_toolkit``).

    ``invoke`` with a ``ToolCall`` returns a ``ToolMessage`` whose ``content`` is the text and whose
    ``artifact`` is the structured result as JSON (``parse_artifact`` gives the typed result back).
    A failed call raises ``ToolException`` (the MCP server's message); with ``handle_tool_error=True``
    it becomes a ``ToolMessage`` with ``status="error"`` that an agent reads to fix its call.
    """

    toolkit: Toolkit = Field(exclude=True, repr=False)
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], ToolExceptionHandlerOutput] | None = False

    def __init__(self, name: str, toolkit: Toolkit | None = None, **kwargs: Any) -> None:
        """Adapt the toolkit method ``name``; keyword arguments set other ``BaseTool`` fields.

        Raises:
            InputError: the toolkit has no tool ``name``.
        """
        toolkit = toolkit if toolkit is not None else environment_toolkit()
        method = tool_method(toolkit, name)
        kwargs.setdefault("description", describe(method))
        kwargs.setdefault("args_schema", arguments_model(method))
        super().__init__(name=name, toolkit=toolkit, **kwargs)

    @property
    def settings(self) -> Settings:
        """The toolkit's settings (model, backend, time budget, allowed roots)."""
        return self.toolkit.settings

    @property
    def result_type(self) -> Any:
        """The type of the structured result (the toolkit method's return annotation)."""
        return method_result_type(tool_method(self.toolkit, self.name))

    def parse_artifact(self, artifact: Any) -> Any:
        """The typed result (e.g. a ``LigandDesignResult``) from a ``ToolMessage.artifact``.

        Raises:
            pydantic.ValidationError: the artifact is not a result of this tool.
        """
        return TypeAdapter(self.result_type).validate_python(artifact)

    # -- LangChain hooks -------------------------------------------------------------------
    def _parse_input(self, tool_input: str | dict[str, Any], tool_call_id: str | None) -> dict[str, Any]:
        # The toolkit validates every call itself: passing the raw arguments through makes a bad
        # argument read the same here, in MCP and in the CLI (one validation, one wording).
        if isinstance(tool_input, str):
            names = list(self.args)
            return {names[0]: tool_input} if names else {}
        return dict(tool_input)

    def _run(self, *args: Any, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any) -> Any:
        return self._respond(kwargs, sync_reporter(self.name, run_manager), None)

    async def _arun(
        self, *args: Any, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        loop = asyncio.get_running_loop()
        reporter = async_reporter(self.name, run_manager, loop)
        cancel = CancelToken()
        context = contextvars.copy_context()  # carries LangChain's run config into the worker
        call = functools.partial(context.run, self._respond, kwargs, reporter, cancel)
        worker = asyncio.wrap_future(start_call_thread(self.name, call), loop=loop)
        try:
            response = await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancel.cancel()
            # The worker stops at its next decode step. Wait for it, so the model is free and no
            # result of the cancelled call is stored after the caller has moved on.
            await asyncio.wait([worker])
            if not worker.cancelled():
                worker.exception()  # retrieved on purpose: a cancelled call reports nothing
            raise
        finally:
            if reporter is not None and worker.done():
                await reporter.drain()
        return response

    # -- the call --------------------------------------------------------------------------
    def _respond(
        self, arguments: dict[str, Any], progress: ProgressReporter | None, cancel: CancelToken | None
    ) -> Any:
        """Run the toolkit method; the text, or (text, artifact) for ``content_and_artifact``.

        Raises:
            ToolException: the arguments are invalid or the call failed; the message is the one
                the MCP server gives for the same error.
        """
        method = tool_method(self.toolkit, self.name)
        try:
            with call_scope(progress=progress, cancel=cancel):
                result = method(**arguments)
            text = render_text(result)
            artifact = to_jsonable_python(result)
        except Exception as exc:
            if not isinstance(exc, LogosError):
                logger.exception("LOGOS tool %s failed on %r", self.name, arguments)
            raise ToolException(agent_message(exc, self.name)) from exc
        return text if self.response_format == "content" else (text, artifact)
