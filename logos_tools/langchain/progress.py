"""Progress of a running tool call, forwarded to LangChain callbacks as custom events.

The model reports after every decode step; the handlers of the run config (``callbacks=[...]``,
``astream_events``: the ones ``dispatch_custom_event`` reaches from inside a tool) receive a
``logos_progress`` event on the tool's run, the first at once, then at most one every
``MIN_INTERVAL_S`` seconds. Async calls run the model in a worker thread, so their events are handed
to the event loop without waiting for it; the tool drains them before it returns, so no event
arrives after the tool's end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun

from logos_tools.tasks.common import ProgressReporter

PROGRESS_EVENT = "logos_progress"
MIN_INTERVAL_S = 0.2

logger = logging.getLogger(__name__)


def progress_data(tool: str, done: float, total: float | None, message: str) -> dict[str, Any]:
    """The payload of one ``logos_progress`` event."""
    return {"tool": tool, "progress": done, "total": total, "message": message}


class _Throttle:
    """Lets the first report through, then at most one per interval (decode steps come fast)."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._last: float | None = None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self._interval_s:
                return False
            self._last = now
            return True


def sync_reporter(tool: str, run_manager: CallbackManagerForToolRun | None) -> ProgressReporter | None:
    """A reporter that dispatches events on the calling thread; None when nobody listens."""
    if run_manager is None:
        return None
    events = run_manager.get_child()
    if not events.handlers:
        return None
    throttle = _Throttle(MIN_INTERVAL_S)

    def report(done: float, total: float | None, message: str) -> None:
        if throttle.ready():
            events.on_custom_event(
                PROGRESS_EVENT, progress_data(tool, done, total, message), run_id=run_manager.run_id
            )

    return report


class AsyncReporter:
    """Hands progress from the worker thread to the event loop; ``drain`` awaits what is in flight."""

    def __init__(
        self, tool: str, run_manager: AsyncCallbackManagerForToolRun, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._tool = tool
        self._run_id = run_manager.run_id
        self._events = run_manager.get_child()
        self._loop = loop
        self._throttle = _Throttle(MIN_INTERVAL_S)
        self._pending: list[concurrent.futures.Future[None]] = []

    @property
    def listening(self) -> bool:
        """Whether any handler would receive the events."""
        return bool(self._events.handlers)

    def __call__(self, done: float, total: float | None, message: str) -> None:
        """Schedule one event on the loop (called from the worker thread; never blocks on the loop)."""
        if not self._throttle.ready():
            return
        coroutine = self._events.on_custom_event(
            PROGRESS_EVENT, progress_data(self._tool, done, total, message), run_id=self._run_id
        )
        try:
            self._pending.append(asyncio.run_coroutine_threadsafe(coroutine, self._loop))
        except RuntimeError:  # the loop is closed: nobody is left to tell
            coroutine.close()
            logger.debug("progress of %s dropped: the event loop is closed", self._tool)

    async def drain(self) -> None:
        """Wait until every scheduled event has reached the handlers (their errors are logged)."""
        pending, self._pending = self._pending, []
        results = await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                logger.warning("a progress handler of %s failed: %r", self._tool, result)


def async_reporter(
    tool: str, run_manager: AsyncCallbackManagerForToolRun | None, loop: asyncio.AbstractEventLoop
) -> AsyncReporter | None:
    """An async-side reporter; None when nobody listens."""
    if run_manager is None:
        return None
    reporter = AsyncReporter(tool, run_manager, loop)
    return reporter if reporter.listening else None
