"""The one place that reads ``LOGOS_*`` environment variables.

Everything else takes explicit arguments; adapters (CLI, MCP server, LangChain toolkit) build a
``Settings`` once and pass the values down.

| variable | meaning | default |
|---|---|---|
| ``LOGOS_HOME`` | folder for the model registry, results store and jobs | ``~/.logos-tools`` |
| ``LOGOS_MODEL`` | registered model name or GGUF path used by the tools | ``demo`` |
| ``LOGOS_PROFILE`` | grammar profile name or path | ``logos-v1`` |
| ``LOGOS_BACKEND`` | ``llamacpp`` (in-process) or ``openai`` (HTTP server) | ``llamacpp`` |
| ``LOGOS_THREADS`` | CPU threads for llama.cpp | all cores |
| ``LOGOS_N_CTX`` | context size in tokens for the llama.cpp backend | ``8192`` |
| ``LOGOS_N_GPU_LAYERS`` | ``auto`` (all layers when the build can offload), or a number | ``auto`` |
| ``LOGOS_OPENAI_BASE_URL`` | base URL of an OpenAI-compatible server (``.../v1``) | unset |
| ``LOGOS_OPENAI_API_KEY`` | bearer key for that server | unset |
| ``LOGOS_OPENAI_MODEL`` | model name the server expects | unset |
| ``LOGOS_TIME_BUDGET_S`` | default wall-clock budget of one tool call, seconds | ``45`` |
| ``LOGOS_ALLOWED_ROOTS`` | ``os.pathsep``-separated folders tools may read files from | current folder and ``LOGOS_HOME`` |
| ``LOGOS_MCP_TOKEN`` | bearer token the MCP server's HTTP transport requires | unset |
| ``LOGOS_MCP_IMAGES`` | ``0`` turns off the PNG depictions in MCP tool results | ``1`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from logos_tools.errors import InputError

DEFAULT_MODEL = "demo"
DEFAULT_PROFILE = "logos-v1"
BACKENDS = ("llamacpp", "openai")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _env_int(name: str, default: int | None) -> int | None:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not an integer. Set it to a whole number or unset it.") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name}={raw!r} is not a yes/no value. Set it to 1 or 0, or unset it.")


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(
            f"{name}={raw!r} is not a number of seconds. Set it to e.g. 45 or unset it."
        ) from None
    if value <= 0:
        raise InputError(f"{name}={raw!r} must be positive. Set it to e.g. 45 or unset it.")
    return value


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration; build it with ``Settings.from_env()`` or pass values explicitly."""

    home: Path = field(default_factory=lambda: Path.home() / ".logos-tools")
    model: str = DEFAULT_MODEL
    profile: str = DEFAULT_PROFILE
    backend: str = "llamacpp"
    threads: int | None = None
    n_ctx: int = 8192
    n_gpu_layers: int | None = None  # None means auto
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str | None = None
    time_budget_s: float = 45.0
    allowed_roots: tuple[Path, ...] = ()
    mcp_token: str | None = field(default=None, repr=False)
    mcp_images: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        """Read every ``LOGOS_*`` variable.

        Raises:
            InputError: a variable holds a value of the wrong kind.
        """
        home = Path(_env("LOGOS_HOME") or Path.home() / ".logos-tools").expanduser()
        backend = _env("LOGOS_BACKEND") or "llamacpp"
        if backend not in BACKENDS:
            raise InputError(
                f"LOGOS_BACKEND={backend!r} is not a backend. Use one of: {', '.join(BACKENDS)}."
            )
        gpu_raw = _env("LOGOS_N_GPU_LAYERS")
        n_gpu_layers = None if gpu_raw in (None, "auto") else _env_int("LOGOS_N_GPU_LAYERS", None)
        roots_raw = _env("LOGOS_ALLOWED_ROOTS")
        roots = (
            tuple(Path(p).expanduser().resolve() for p in roots_raw.split(os.pathsep) if p)
            if roots_raw
            else ()
        )
        return cls(
            home=home,
            model=_env("LOGOS_MODEL") or DEFAULT_MODEL,
            profile=_env("LOGOS_PROFILE") or DEFAULT_PROFILE,
            backend=backend,
            threads=_env_int("LOGOS_THREADS", None),
            n_ctx=_env_int("LOGOS_N_CTX", 8192) or 8192,
            n_gpu_layers=n_gpu_layers,
            openai_base_url=_env("LOGOS_OPENAI_BASE_URL"),
            openai_api_key=_env("LOGOS_OPENAI_API_KEY"),
            openai_model=_env("LOGOS_OPENAI_MODEL"),
            time_budget_s=_env_float("LOGOS_TIME_BUDGET_S", 45.0),
            allowed_roots=roots,
            mcp_token=_env("LOGOS_MCP_TOKEN"),
            mcp_images=_env_bool("LOGOS_MCP_IMAGES", True),
        )

    def effective_allowed_roots(self) -> tuple[Path, ...]:
        """Folders tools may read structure files from: the configured ones, else cwd and home."""
        if self.allowed_roots:
            return self.allowed_roots
        return (Path.cwd().resolve(), self.home.resolve())

    @property
    def registry_path(self) -> Path:
        """The JSON registry of the user's GGUF models."""
        return self.home / "models.json"

    @property
    def store_path(self) -> Path:
        """The SQLite results store."""
        return self.home / "results.sqlite3"
