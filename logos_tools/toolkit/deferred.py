"""A backend that opens the real one on first use, so bad input is reported before any model load."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from logos_tools.runtime.base import (
    Backend,
    BackendInfo,
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ProgressCallback,
    ScoreResult,
)


class DeferredBackend(Backend):
    """Delegates to ``open_backend()``, called once, when a task first generates, scores or asks."""

    def __init__(self, open_backend: Callable[[], Backend]) -> None:
        self._open = open_backend
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    def _real(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = self._open()
            return self._backend

    @property
    def info(self) -> BackendInfo:
        """The real backend's info (opens it)."""
        return self._real().info

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Generate on the real backend (opens it)."""
        return self._real().generate(request, progress=progress, cancel=cancel)

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[ScoreResult]:
        """Score on the real backend (opens it)."""
        return self._real().score(pairs)
