"""langchain-tests' standard suites hold async test methods without an asyncio mark (LangChain runs
them with ``asyncio_mode = "auto"``). Overriding them is forbidden by the suites, and auto mode would
change every async test of the project, so the mark is added here, for those methods only, while
pytest collects them (before pytest-asyncio decides which items it runs)."""

from __future__ import annotations

import inspect
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.base import BaseStandardTests

from logos_tools.runtime.base import CancelToken
from logos_tools.settings import Settings
from logos_tools.tasks.common import ProgressReporter
from logos_tools.toolkit import Toolkit
from logos_tools.toolkit.calls import call_scope
from tests.langchain.suites import FIXTURES, PARACETAMOL


@pytest.hookimpl(wrapper=True, trylast=True)  # trylast: inside pytest-asyncio's collection wrapper
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, Any]:
    result = yield
    items = result if isinstance(result, list) else [result]
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.cls is not None
            and issubclass(item.cls, BaseStandardTests)
            and inspect.iscoroutinefunction(item.obj)
            and item.get_closest_marker("asyncio") is None
        ):
            item.add_marker(pytest.mark.asyncio)
    return result


@pytest.fixture(scope="session")
def shared_toolkit(tmp_path_factory: pytest.TempPathFactory) -> Toolkit:
    """One toolkit for the whole session, as LogosToolkit shares one: the demo model loads once.

    Files may be read from the repository's grammar fixtures only (the tools' path confinement). The
    time budget is long: on a busy CI machine a call cut at the default 45 s would come back partial
    and leave a background job holding the model while later tests wait.
    """
    settings = Settings(
        home=tmp_path_factory.mktemp("logos-langchain"),
        model="demo",
        allowed_roots=(FIXTURES,),
        time_budget_s=600,
    )
    return Toolkit(settings)


@pytest.fixture(scope="session")
def demo_toolkit(shared_toolkit: Toolkit, demo_path: Path) -> Toolkit:
    """The shared toolkit, for tests that run the model (fails clearly while the demo is not built)."""
    return shared_toolkit


@pytest.fixture(scope="session")
def finished_job_id(demo_toolkit: Toolkit) -> str:
    """A background job of the shared toolkit that ran a real retrosynthesis to completion."""
    toolkit = demo_toolkit

    def work(progress: ProgressReporter, cancel: CancelToken) -> tuple[str | None, dict[str, Any]]:
        with call_scope(progress=progress, cancel=cancel):
            result = toolkit.retrosynthesis(PARACETAMOL, num_samples=4, seed=11)
        return result.result_id, result.model_dump(mode="json")

    job_id = toolkit.jobs.start("retrosynthesis", work)
    status = toolkit.jobs.wait(job_id, timeout_s=120)
    assert status.status == "complete", status
    return job_id
