"""Toolkits for in-memory MCP tests: on the real demo model, or on a scripted backend for exact output."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from logos_tools.runtime.fake import Script, ScriptedBackend
from logos_tools.settings import Settings
from logos_tools.toolkit.toolkit import Toolkit
from tests.mcp_server.support import STRUCTURES


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def one_thread_demo_backend(demo_path: Path) -> Iterator[object]:
    """The demo model on one llama.cpp thread, loaded once per session.

    The demo model gains nothing from a second thread, and two threads spin against each other on a
    busy 2-core machine: the in-memory tool tests took 227 s on two threads under load.
    """
    from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(
        demo_path, name="demo", is_demo=True, options=LlamaCppOptions(n_ctx=8192, n_threads=1)
    )
    yield backend
    backend.close()


@pytest.fixture
def demo_toolkit(isolated_home: Path, one_thread_demo_backend: object) -> Toolkit:
    """The toolkit on the shipped demo model, structure fixtures readable."""
    settings = Settings(home=isolated_home, allowed_roots=(STRUCTURES,))
    return Toolkit(settings, backend=one_thread_demo_backend)  # type: ignore[arg-type]


def scripted_toolkit(home: Path, script: Sequence[str] | Script, **settings: object) -> Toolkit:
    """A toolkit whose backend answers with ``script`` (pins exact model output; runs no model)."""
    return Toolkit(
        Settings(home=home, allowed_roots=(STRUCTURES,), **settings),  # type: ignore[arg-type]
        backend=ScriptedBackend(script),
    )
