from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler, CallbackManager

from logos_tools.langchain.progress import PROGRESS_EVENT, async_reporter, sync_reporter


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


def test_without_listeners_no_reporter_is_made_so_sampling_pays_nothing() -> None:
    run = CallbackManager(handlers=[]).on_tool_start({"name": "retrosynthesis"}, "{}")
    assert sync_reporter("retrosynthesis", run) is None
    assert sync_reporter("retrosynthesis", None) is None


def test_the_first_report_reaches_the_handlers_at_once_and_rapid_ones_are_thinned() -> None:
    recorder = Recorder()
    run = CallbackManager.configure(inheritable_callbacks=[recorder]).on_tool_start(
        {"name": "retrosynthesis"}, "{}"
    )
    report = sync_reporter("retrosynthesis", run)
    assert report is not None
    for step in range(50):  # decode steps come far faster than the 0.2 s interval
        report(step, 50, f"retrosynthesis: {step}/50 samples")
    assert recorder.events == [
        (
            PROGRESS_EVENT,
            {"tool": "retrosynthesis", "progress": 0, "total": 50, "message": "retrosynthesis: 0/50 samples"},
            run.run_id,
        )
    ]


@pytest.mark.asyncio
async def test_reports_from_a_worker_thread_reach_async_handlers_on_the_loop_before_drain_returns() -> None:
    recorder = Recorder()
    run = await AsyncCallbackManager.configure(inheritable_callbacks=[recorder]).on_tool_start(
        {"name": "design_ligands"}, "{}"
    )
    reporter = async_reporter("design_ligands", run, asyncio.get_running_loop())
    assert reporter is not None
    await asyncio.to_thread(reporter, 3, None, "ligand design: 3/8 samples")
    await reporter.drain()
    assert [(name, data["progress"], run_id) for name, data, run_id in recorder.events] == [
        (PROGRESS_EVENT, 3, run.run_id)
    ]
