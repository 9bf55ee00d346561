"""Open the backend that settings ask for, once per process per model.

Models are heavy: every toolkit, CLI command and server in a process shares one loaded backend per
(file, options), so a GGUF is mapped into memory once however many callers use it.
"""

from __future__ import annotations

import threading

from logos_tools.errors import InputError
from logos_tools.models.registry import ModelRegistry
from logos_tools.runtime.base import Backend
from logos_tools.settings import Settings

_OPEN: dict[tuple[object, ...], Backend] = {}
_LOCK = threading.Lock()


def open_backend(settings: Settings, model: str | None = None) -> Backend:
    """The backend for ``model`` (default ``settings.model``), created on first request.

    Raises:
        InputError: the OpenAI backend is chosen without a base URL.
        ModelNotFoundError: the model name or path does not resolve.
        ModelFileError: the file is not a usable GGUF.
    """
    if settings.backend == "openai":
        from logos_tools.runtime.openai_http import OpenAICompatibleBackend, OpenAIOptions

        if not settings.openai_base_url:
            raise InputError(
                "LOGOS_BACKEND=openai needs LOGOS_OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1. Set it, "
                "or use LOGOS_BACKEND=llamacpp to run the model in this process."
            )
        key: tuple[object, ...] = ("openai", settings.openai_base_url, settings.openai_model)
        with _LOCK:
            if key not in _OPEN:
                _OPEN[key] = OpenAICompatibleBackend(
                    OpenAIOptions(
                        base_url=settings.openai_base_url,
                        api_key=settings.openai_api_key,
                        model=settings.openai_model,
                    )
                )
            return _OPEN[key]

    from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions

    resolved = ModelRegistry.from_settings(settings).resolve(model or settings.model)
    options = LlamaCppOptions(
        n_ctx=settings.n_ctx, n_threads=settings.threads, n_gpu_layers=settings.n_gpu_layers
    )
    key = ("llamacpp", str(resolved.path), options)
    with _LOCK:
        if key not in _OPEN:
            _OPEN[key] = LlamaCppBackend(
                resolved.path,
                name=resolved.name,
                sha256=resolved.sha256,
                is_demo=resolved.is_demo,
                options=options,
            )
        return _OPEN[key]


def close_all() -> None:
    """Release every backend opened by this process (tests and servers shutting down)."""
    with _LOCK:
        for backend in _OPEN.values():
            backend.close()
        _OPEN.clear()
