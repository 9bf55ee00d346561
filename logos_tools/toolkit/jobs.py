"""Background jobs: the rest of a tool call that outgrew its time budget.

Chat hosts cut tool calls at about a minute. A call whose budget runs out returns what it has
(flagged partial) plus a job id; the job re-runs the same call without the short budget in a worker
thread and stores the complete result. ``get_job`` polls it (and can cancel it).

A cancelled job stops at its next decode step: until then its status reads ``cancelling``. The partial
result that started the job stays stored under its own id (``partial_result_id``) whatever happens.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from logos_tools.errors import GenerationCancelled, InputError, LogosError, ResultNotFoundError
from logos_tools.runtime.base import CancelToken

JobState = Literal["running", "cancelling", "complete", "failed", "cancelled"]
_JOB_ID_LENGTH = 14


class JobStatus(BaseModel):
    """Where a background job stands; ``result`` holds the complete result once it is done."""

    job_id: str
    tool: str
    status: JobState = Field(
        description="running; cancelling (a cancel was requested, the job stops at its next decode step); "
        "complete, failed or cancelled once it ended."
    )
    progress: float | None = None
    total: float | None = None
    message: str | None = None
    elapsed_s: float
    result_id: str | None = Field(default=None, description="Id of the complete result, once stored.")
    partial_result_id: str | None = Field(
        default=None, description="Id of the partial result this job continues; it stays stored."
    )
    result: dict[str, Any] | None = None
    error: str | None = None


class _Job:
    def __init__(self, job_id: str, tool: str, partial_result_id: str | None) -> None:
        self.job_id, self.tool, self.partial_result_id = job_id, tool, partial_result_id
        self.cancel = CancelToken()
        self.started = time.monotonic()
        self.state: JobState = "running"
        self.progress: float | None = None
        self.total: float | None = None
        self.message: str | None = None
        self.result_id: str | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.finished = threading.Event()

    def on_progress(self, done: float, total: float | None, message: str) -> None:
        self.progress, self.total, self.message = done, total, message

    def status(self) -> JobStatus:
        # The worker thread only leaves "running" once the work returns or raises; a cancel that was
        # asked for and not yet noticed shows as "cancelling" so nobody is told to cancel again.
        state: JobState = "cancelling" if self.state == "running" and self.cancel.cancelled else self.state
        return JobStatus(
            job_id=self.job_id,
            tool=self.tool,
            status=state,
            progress=self.progress,
            total=self.total,
            message=self.message,
            elapsed_s=round(time.monotonic() - self.started, 3),
            result_id=self.result_id,
            partial_result_id=self.partial_result_id,
            result=self.result,
            error=self.error,
        )


Work = Callable[[Callable[[float, float | None, str], None], CancelToken], tuple[str | None, dict[str, Any]]]


class JobManager:
    """Runs jobs on daemon threads and keeps their status in memory for this process."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def start(self, tool: str, work: Work, *, partial_result_id: str | None = None) -> str:
        """Start ``work(progress, cancel) -> (result_id, result_json)`` in the background; its id.

        ``partial_result_id`` names the stored partial result the job continues, so its status can
        point to it (above all once the job is cancelled).
        """
        job = _Job("j-" + secrets.token_hex(6), tool, partial_result_id)
        with self._lock:
            self._jobs[job.job_id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"logos-{job.job_id}", daemon=True).start()
        return job.job_id

    def _run(self, job: _Job, work: Work) -> None:
        try:
            job.result_id, job.result = work(job.on_progress, job.cancel)
            job.state = "complete"
        except GenerationCancelled:
            job.state = "cancelled"
        except LogosError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # a job thread must record every failure, never die silently
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished.set()

    def _get(self, job_id: str) -> _Job:
        if not job_id.startswith("j-") or len(job_id) != _JOB_ID_LENGTH:
            raise InputError(f"{job_id!r} is not a job id: job ids look like 'j-' plus 12 hex digits.")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ResultNotFoundError(
                f"No job {job_id!r} in this process (a job lives only in the process that started it: the MCP "
                "server or Python program). "
                "Stored results stay readable by result id."
            )
        return job

    def status(self, job_id: str) -> JobStatus:
        """The job's status.

        Raises:
            InputError: the id is malformed.
            ResultNotFoundError: no such job in this process.
        """
        return self._get(job_id).status()

    def cancel(self, job_id: str) -> JobStatus:
        """Ask a running job to stop at its next decode step; its status afterwards.

        A job still running reads ``cancelling`` until it stops; a job already ended keeps its status.

        Raises:
            InputError: the id is malformed.
            ResultNotFoundError: no such job in this process.
        """
        job = self._get(job_id)
        job.cancel.cancel()
        return job.status()

    def cancel_all(self, timeout_s: float) -> list[JobStatus]:
        """Cancel every job still running and wait up to ``timeout_s`` in all for them to stop.

        Returns the statuses of the jobs that were running.
        """
        with self._lock:
            running = [job for job in self._jobs.values() if not job.finished.is_set()]
        for job in running:
            job.cancel.cancel()
        deadline = time.monotonic() + timeout_s
        for job in running:
            job.finished.wait(max(0.0, deadline - time.monotonic()))
        return [job.status() for job in running]

    def wait(self, job_id: str, timeout_s: float) -> JobStatus:
        """Block until the job leaves ``running`` or ``timeout_s`` passes (for tests and the CLI)."""
        job = self._get(job_id)
        job.finished.wait(timeout_s)
        return job.status()
