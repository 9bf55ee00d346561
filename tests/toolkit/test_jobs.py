"""Background jobs: cancelling is reported as such, and a job names the partial result it continues."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logos_tools.runtime.base import CancelToken
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.settings import Settings
from logos_tools.toolkit import Toolkit
from logos_tools.toolkit.jobs import JobManager
from logos_tools.toolkit.rendering import render_text

WAIT_S = 30.0  # an upper bound for the worker thread to react; the tests never wait it out when it works


def _held_until_released(
    started: threading.Event, release: threading.Event
) -> Callable[[Any, CancelToken], tuple[str | None, dict[str, Any]]]:
    """Work that runs until the test releases it, then stops if it was cancelled (as a decode step does)."""

    def work(_progress: Any, cancel: CancelToken) -> tuple[str | None, dict[str, Any]]:
        started.set()
        assert release.wait(WAIT_S), "the test never released the job"
        cancel.raise_if_cancelled()
        return "r-complete", {}

    return work


def test_cancelling_a_running_job_says_cancelling_and_names_the_partial_result(isolated_home: Path) -> None:
    toolkit = Toolkit(Settings(home=isolated_home), backend=ScriptedBackend([""]))
    started, release = threading.Event(), threading.Event()
    job_id = toolkit.jobs.start(
        "generate_molecules", _held_until_released(started, release), partial_result_id="r-partial"
    )
    assert started.wait(WAIT_S)

    asked = toolkit.get_job(job_id, cancel=True)
    assert asked.status == "cancelling"
    assert asked.partial_result_id == "r-partial"
    text = render_text(asked)
    assert "cancel=true" not in text
    assert "Cancelling was requested: the job stops at its next decode step." in text
    assert "stays stored under result id r-partial" in text
    assert toolkit.get_job(job_id).status == "cancelling"  # polling does not forget the request

    release.set()
    stopped = toolkit.jobs.wait(job_id, WAIT_S)
    assert stopped.status == "cancelled"
    assert stopped.result_id is None
    lines = render_text(stopped).splitlines()
    assert lines[1:] == [
        "The job was cancelled before it stored a complete result.",
        "The partial result it continues stays stored under result id r-partial.",
    ]


def test_a_running_job_that_is_not_cancelled_still_offers_to_cancel() -> None:
    jobs = JobManager()
    started, release = threading.Event(), threading.Event()
    job_id = jobs.start("retrosynthesis", _held_until_released(started, release))
    assert started.wait(WAIT_S)
    running = jobs.status(job_id)
    assert running.status == "running"
    assert running.partial_result_id is None
    assert "(or cancel=true to stop it)" in render_text(running)
    release.set()
    done = jobs.wait(job_id, WAIT_S)
    assert (done.status, done.result_id) == ("complete", "r-complete")


def test_cancelling_a_finished_job_keeps_its_status() -> None:
    jobs = JobManager()
    started, release = threading.Event(), threading.Event()
    release.set()
    job_id = jobs.start("retrosynthesis", _held_until_released(started, release))
    assert jobs.wait(job_id, WAIT_S).status == "complete"
    assert jobs.cancel(job_id).status == "complete"


def _stops_when_cancelled(
    started: threading.Event,
) -> Callable[[Any, CancelToken], tuple[str | None, dict[str, Any]]]:
    """Work that runs until it is cancelled, checking its token as decode steps do."""

    def work(_progress: Any, cancel: CancelToken) -> tuple[str | None, dict[str, Any]]:
        started.set()
        tick = threading.Event()  # never set: its timed wait paces the loop like decode steps
        while not cancel.cancelled:
            tick.wait(0.01)
        cancel.raise_if_cancelled()
        return "r-never", {}

    return work


def test_closing_a_toolkit_cancels_its_running_jobs_and_waits_for_them(isolated_home: Path) -> None:
    started = threading.Event()
    with Toolkit(Settings(home=isolated_home), backend=ScriptedBackend([""])) as toolkit:
        job_id = toolkit.jobs.start("generate_molecules", _stops_when_cancelled(started))
        assert started.wait(WAIT_S)
        assert toolkit.get_job(job_id).status == "running"
    assert toolkit.get_job(job_id).status == "cancelled"  # stopped before the with-block returned


def test_cancel_all_leaves_finished_jobs_as_they_were() -> None:
    jobs = JobManager()
    done = jobs.start("retrosynthesis", lambda _progress, _cancel: ("r-done", {}))
    assert jobs.wait(done, WAIT_S).status == "complete"
    assert jobs.cancel_all(WAIT_S) == []
    assert jobs.status(done).status == "complete"
