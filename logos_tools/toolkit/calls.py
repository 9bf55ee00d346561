"""Per-call context that adapters set around a tool call: progress reporting and cancellation.

Tool signatures stay clean (they are the agent-facing schema); an adapter that can report progress
(MCP) or cancel (MCP, LangChain async) enters ``call_scope`` around the call instead.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from logos_tools.runtime.base import CancelToken
from logos_tools.tasks.common import ProgressReporter


@dataclass(frozen=True)
class CallScope:
    """What the adapter offers the running call."""

    progress: ProgressReporter | None = None
    cancel: CancelToken | None = None


_SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("logos_call_scope", default=None)


def current_scope() -> CallScope:
    """The scope of the running call (an empty one outside any adapter)."""
    return _SCOPE.get() or CallScope()


@contextlib.contextmanager
def call_scope(
    progress: ProgressReporter | None = None, cancel: CancelToken | None = None
) -> Iterator[CallScope]:
    """Run the enclosed tool call with this progress reporter and cancel token."""
    scope = CallScope(progress=progress, cancel=cancel)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)
