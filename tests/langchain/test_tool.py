"""LogosTool on the real demo model: content and artifact, ToolException wording, sync and async,
an event loop left free while the model samples, and cancellation that stops the generation."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import ToolException

from logos_tools.errors import LogosError
from logos_tools.langchain import PROGRESS_EVENT, LogosTool
from logos_tools.tasks.retrosynthesis import RetrosynthesisResult
from logos_tools.toolkit import Toolkit
from logos_tools.toolkit.messages import agent_message
from logos_tools.toolkit.rendering import render_text
from tests.langchain.suites import PARACETAMOL

SMALL_RETRO = {"product": PARACETAMOL, "num_samples": 4, "seed": 3}
# Many molecules under a limit nothing meets (QED 1.0): the model samples until cancelled.
ENDLESS_SAMPLING = {
    "num_molecules": 500,
    "max_samples": 5000,
    "min_qed": 1.0,
    "seed": 5,
    "time_budget_s": 600,
}


def tool_call(name: str, args: dict[str, Any], call_id: str = "call-1") -> ToolCall:
    return ToolCall(name=name, args=args, id=call_id, type="tool_call")


def mcp_message(toolkit: Toolkit, name: str, args: dict[str, Any]) -> str:
    """What the MCP server says for this call: agent_message of the toolkit's own error."""
    with pytest.raises(LogosError) as raised:
        getattr(toolkit, name)(**args)
    return agent_message(raised.value, name)


class ProgressRecorder(AsyncCallbackHandler):
    """Records each progress event with the moment the event loop handled it."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []

    async def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if name == PROGRESS_EVENT:
            self.events.append((time.monotonic(), data))


def test_a_tool_call_answers_with_the_rendered_text_and_the_result_json_as_artifact(
    demo_toolkit: Toolkit,
) -> None:
    tool = LogosTool("retrosynthesis", demo_toolkit)
    message = tool.invoke(tool_call("retrosynthesis", SMALL_RETRO))
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    assert message.tool_call_id == "call-1"
    result = tool.parse_artifact(message.artifact)
    assert isinstance(result, RetrosynthesisResult)
    assert message.content == render_text(result)
    assert message.artifact == result.model_dump(mode="json")
    assert (
        json.loads(json.dumps(message.artifact)) == message.artifact
    )  # plain JSON: any checkpointer keeps it
    assert result.model.is_demo
    assert result.result_id is not None
    assert demo_toolkit.store.get(result.result_id).tool == "retrosynthesis"


def test_invoked_with_plain_arguments_a_tool_returns_only_the_text(demo_toolkit: Toolkit) -> None:
    text = LogosTool("retrosynthesis", demo_toolkit).invoke(SMALL_RETRO)
    assert isinstance(text, str)
    assert text.startswith("Retrosynthesis:")
    assert f"Product {PARACETAMOL}" in text


BAD_CALLS = [
    pytest.param("retrosynthesis", {"product": "C1CC", "num_samples": 2}, id="invalid-smiles"),
    pytest.param("retrosynthesis", {"product": PARACETAMOL, "num_samples": 0}, id="out-of-range"),
    pytest.param("retrosynthesis", {"smiles": PARACETAMOL}, id="unknown-argument"),
    pytest.param(
        "design_ligands", {"structure_path": "/etc/hostname", "ligand": "XK2"}, id="path-outside-roots"
    ),
    pytest.param("get_job", {"job_id": "j-0123456789ab"}, id="unknown-job"),
]


@pytest.mark.parametrize(("name", "args"), BAD_CALLS)
def test_a_bad_call_raises_tool_exception_with_the_message_mcp_gives(
    demo_toolkit: Toolkit, name: str, args: dict[str, Any]
) -> None:
    tool = LogosTool(name, demo_toolkit)  # the default: raise
    with pytest.raises(ToolException) as raised:
        tool.invoke(tool_call(name, args))
    assert str(raised.value) == mcp_message(demo_toolkit, name, args)


@pytest.mark.asyncio
@pytest.mark.parametrize(("name", "args"), BAD_CALLS)
async def test_a_bad_async_call_raises_the_same_tool_exception(
    demo_toolkit: Toolkit, name: str, args: dict[str, Any]
) -> None:
    tool = LogosTool(name, demo_toolkit, handle_tool_error=False)
    with pytest.raises(ToolException) as raised:
        await tool.ainvoke(tool_call(name, args))
    assert str(raised.value) == mcp_message(demo_toolkit, name, args)


def test_with_handle_tool_error_the_agent_reads_the_error_in_an_error_tool_message(
    demo_toolkit: Toolkit,
) -> None:
    args = {"product": "C1CC", "num_samples": 2}
    tool = LogosTool("retrosynthesis", demo_toolkit, handle_tool_error=True)
    message = tool.invoke(tool_call("retrosynthesis", args))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert message.content == mcp_message(demo_toolkit, "retrosynthesis", args)
    assert "C1CC" in message.content


def test_a_string_input_is_the_first_argument(demo_toolkit: Toolkit) -> None:
    tool = LogosTool("retrosynthesis", demo_toolkit, handle_tool_error=False)
    with pytest.raises(ToolException) as raised:
        tool.invoke("C1CC")
    assert str(raised.value) == mcp_message(demo_toolkit, "retrosynthesis", {"product": "C1CC"})


@pytest.mark.asyncio
async def test_async_and_sync_calls_with_one_seed_give_the_same_result(demo_toolkit: Toolkit) -> None:
    tool = LogosTool("retrosynthesis", demo_toolkit)
    sync = tool.parse_artifact(tool.invoke(tool_call("retrosynthesis", SMALL_RETRO)).artifact)
    message = await tool.ainvoke(tool_call("retrosynthesis", SMALL_RETRO))
    assert isinstance(message, ToolMessage)
    async_ = tool.parse_artifact(message.artifact)
    assert async_.candidates == sync.candidates
    assert async_.sampling == sync.sampling
    assert async_.result_id != sync.result_id


def test_progress_reaches_langchain_callbacks_as_custom_events(demo_toolkit: Toolkit) -> None:
    events: list[tuple[str, Any, UUID]] = []

    class Recorder(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
            events.append((name, data, run_id))

    LogosTool("retrosynthesis", demo_toolkit).invoke(SMALL_RETRO, config={"callbacks": [Recorder()]})
    assert events, "no progress event during a call that samples"
    name, data, _ = events[0]
    assert name == PROGRESS_EVENT
    assert data["tool"] == "retrosynthesis"
    assert data["message"].startswith("retrosynthesis: ")
    assert data["progress"] >= 0


@pytest.mark.asyncio
async def test_an_async_call_leaves_the_event_loop_free_while_the_model_samples(
    demo_toolkit: Toolkit,
) -> None:
    tool = LogosTool("generate_molecules", demo_toolkit)
    tool.invoke({"num_molecules": 1, "seed": 1})  # load the model first: loading is not sampling
    recorder = ProgressRecorder()
    args = {"num_molecules": 40, "max_samples": 160, "seed": 2}
    started = time.monotonic()
    message = await tool.ainvoke(tool_call("generate_molecules", args), config={"callbacks": [recorder]})
    assert isinstance(message, ToolMessage)
    # The task started after `started`, so sampling went on at least until started + elapsed.
    sampling_ended_after = started + tool.parse_artifact(message.artifact).run.elapsed_s - 0.001
    assert recorder.events, "no progress event reached the event loop"
    first_handled = recorder.events[0][0]
    assert first_handled < sampling_ended_after, "the loop only ran after the model had finished"


@pytest.mark.asyncio
async def test_cancelling_an_async_call_stops_the_generation_and_stores_nothing(
    demo_toolkit: Toolkit,
) -> None:
    tool = LogosTool("generate_molecules", demo_toolkit)
    before = [entry.id for entry in demo_toolkit.store.list(limit=1000, tool="generate_molecules")]
    seen: list[dict[str, Any]] = []

    class CancelOnFirstProgress(AsyncCallbackHandler):
        async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
            if not seen:
                seen.append(data)
                call.cancel()

    call = asyncio.create_task(
        tool.ainvoke(
            tool_call("generate_molecules", ENDLESS_SAMPLING), config={"callbacks": [CancelOnFirstProgress()]}
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await call
    assert seen, "the call never reported progress, so it was not cancelled while sampling"
    after = [entry.id for entry in demo_toolkit.store.list(limit=1000, tool="generate_molecules")]
    assert after == before, "a cancelled call stored a result: the generation ran to its end"
    # The model is free again at once: the next call runs to the end.
    message = await tool.ainvoke(tool_call("generate_molecules", {"num_molecules": 1, "seed": 1}))
    assert isinstance(message, ToolMessage)
    assert message.status == "success"


@pytest.mark.asyncio
async def test_an_async_call_leaves_the_loops_default_executor_free_for_other_work(
    demo_toolkit: Toolkit,
) -> None:
    # One default worker: a tool call that waited there would hold it until the model finished.
    loop = asyncio.get_running_loop()
    default_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(default_executor)
    sampling = asyncio.Event()

    class SignalFirstProgress(AsyncCallbackHandler):
        async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
            sampling.set()

    def stored() -> list[str]:
        return [entry.id for entry in demo_toolkit.store.list(limit=1000, tool="generate_molecules")]

    before = stored()
    tool = LogosTool("generate_molecules", demo_toolkit)
    call = asyncio.create_task(
        tool.ainvoke(
            tool_call("generate_molecules", ENDLESS_SAMPLING), config={"callbacks": [SignalFirstProgress()]}
        )
    )
    try:
        await sampling.wait()
        assert await loop.run_in_executor(None, lambda: "other work") == "other work"
        # The call stores its result when the model is done: nothing stored, still sampling.
        assert stored() == before, "the other work ran only once the model call had ended"
    finally:
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        default_executor.shutdown()


def test_tools_built_without_a_toolkit_share_the_environments_so_get_job_finds_their_jobs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    retro, jobs = LogosTool("retrosynthesis"), LogosTool("get_job")
    assert retro.toolkit is jobs.toolkit
    job_id = retro.toolkit.jobs.start("retrosynthesis", lambda progress, cancel: (None, {}))
    retro.toolkit.jobs.wait(job_id, timeout_s=60)
    assert f"Job {job_id}" in jobs.invoke({"job_id": job_id})
    monkeypatch.setenv("LOGOS_HOME", str(tmp_path))  # another environment: another toolkit
    elsewhere = LogosTool("get_job")
    assert elsewhere.toolkit is not jobs.toolkit
    assert elsewhere.settings.home == tmp_path
