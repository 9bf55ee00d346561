"""Thin, crash-safe access to llama.cpp (through llama-cpp-python) for loading GGUF models.

Two traps live here so no caller meets them:

* **AMX crash.** On CPUs with Intel AMX (Sapphire Rapids and later servers), llama.cpp repacks
  quantized weights into an "AMX" extra buffer type, and the first ``llama_decode`` of a quantized
  model (Q8_0, Q4_0, Q4_K_M, ...) dies with SIGSEGV (llama.cpp issue #20824). Loading with
  ``use_extra_bufts=False`` keeps the weights in plain CPU buffers and avoids it. F16/F32 files run
  fine (and faster) with the AMX buffers, so the workaround is applied only to quantized files on
  AMX CPUs. It must be set on BOTH load paths: the low-level ``llama_model_load_from_file`` (which
  ``load_model`` uses) and the high-level ``llama_cpp.Llama``. ``Llama`` has no argument for it, so
  ``open_llama`` swaps ``llama_cpp.llama_cpp.llama_model_default_params`` (the function ``Llama``
  calls to build its model parameters) for a wrapper that clears the flag, for the duration of
  the constructor only, under a lock.
* **Logs on stdout.** llama.cpp prints to stderr/stdout by default, and stdout belongs to the MCP
  protocol. One log callback, installed once, routes every llama.cpp/ggml log line to the
  ``logos_tools.models.native.llama_cpp`` logger at DEBUG level and keeps the recent warnings and
  errors so a failed load can say why.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as llama_lowlevel

from logos_tools.errors import ModelFileError
from logos_tools.models.gguf_file import check_gguf_header, is_quantized_file

logger = logging.getLogger(__name__)
_llama_logger = logging.getLogger(f"{__name__}.llama_cpp")

# ggml_log_level of current llama.cpp: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the
# previous line). llama-cpp-python's own _logger.py still documents the older numbering.
_GGML_LOG_LEVEL_WARN = 3
_GGML_LOG_LEVEL_ERROR = 4
_GGML_LOG_LEVEL_CONT = 5

_LOG_LOCK = threading.Lock()
_log_state: dict[str, Any] = {"installed": False, "partial": "", "level": 1}
# Recent warning/error lines, numbered so a caller can take only those logged after a point.
_recent_problems: collections.deque[tuple[int, str]] = collections.deque(maxlen=64)
_problem_counter = [0]
_BACKEND_LOCK = threading.Lock()
_backend_ready = [False]
# Serialises the temporary swap of llama_model_default_params in open_llama.
_DEFAULT_PARAMS_LOCK = threading.Lock()


@llama_lowlevel.llama_log_callback  # type: ignore[untyped-decorator]
def _log_callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    # Called from llama.cpp threads: never raise, never print.
    try:
        message = text.decode("utf-8", errors="replace")
        with _LOG_LOCK:
            if level != _GGML_LOG_LEVEL_CONT:
                _log_state["level"] = level
            effective = _log_state["level"]
            buffered = _log_state["partial"] + message
            *lines, rest = buffered.split("\n")
            _log_state["partial"] = rest
            for line in lines:
                if not line.strip():
                    continue
                _llama_logger.debug("%s", line)
                if effective in (_GGML_LOG_LEVEL_ERROR, _GGML_LOG_LEVEL_WARN):
                    _problem_counter[0] += 1
                    _recent_problems.append((_problem_counter[0], line.strip()))
    except Exception:  # pragma: no cover - a logging failure must not crash inference
        pass


def install_log_router() -> None:
    """Route llama.cpp and ggml logs to Python logging (DEBUG) instead of stderr; idempotent."""
    with _LOG_LOCK:
        if _log_state["installed"]:
            return
        llama_lowlevel.llama_log_set(_log_callback, ctypes.c_void_p(0))
        _log_state["installed"] = True


def _problems_since(mark: int) -> list[str]:
    with _LOG_LOCK:
        return [line for number, line in _recent_problems if number > mark]


def _problem_mark() -> int:
    with _LOG_LOCK:
        return _problem_counter[0]


def _ensure_backend() -> None:
    install_log_router()
    with _BACKEND_LOCK:
        if not _backend_ready[0]:
            llama_lowlevel.llama_backend_init()
            _backend_ready[0] = True


@functools.cache
def cpu_has_amx() -> bool:
    """True when llama.cpp may use Intel AMX here: its build reports AMX, or the CPU flags show it.

    Both sources count: the build decides whether the AMX buffer type exists, the CPU flags catch
    builds whose feature string does not list it. A false positive only costs the repacking speed-up
    for quantized files; a false negative would crash, so either signal is enough.
    """
    try:
        system_info = llama_lowlevel.llama_print_system_info().decode("utf-8", errors="replace")
    except Exception:  # pragma: no cover - defensive: the feature string is informational
        system_info = ""
    if "AMX" in system_info.upper():
        return True
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"amx_tile", "amx_int8", "amx_bf16"})
    except OSError:
        return False
    return False


def extra_buffers_allowed(*, quantized: bool, amx: bool) -> bool:
    """Whether llama.cpp may use its extra (repacking) buffer types for a model.

    False only for the crash case, a quantized file on an AMX CPU (see the module docstring).
    """
    return not (quantized and amx)


def default_gpu_layers() -> int:
    """All layers (-1) when this llama.cpp build can offload to a GPU, else 0."""
    return -1 if llama_lowlevel.llama_supports_gpu_offload() else 0


def model_params(
    path: Path,
    *,
    n_gpu_layers: int | None = None,
    use_extra_bufts: bool | None = None,
    vocab_only: bool = False,
) -> llama_cpp.llama_model_params:
    """llama.cpp model parameters for ``path``: defaults plus GPU layers and the AMX workaround.

    Args:
        path: the GGUF file (its tensor types decide whether the AMX workaround applies).
        n_gpu_layers: layers to offload; None means all when the build supports a GPU, else 0.
        use_extra_bufts: force the extra buffer types on or off; None decides automatically
            (off for quantized files on AMX CPUs, which otherwise segfault on the first decode).
        vocab_only: load only the vocabulary (tokenizer checks; no weights are read).

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is not a readable GGUF.
    """
    params: llama_cpp.llama_model_params = llama_lowlevel.llama_model_default_params()
    params.n_gpu_layers = default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
    params.vocab_only = vocab_only
    if use_extra_bufts is None:
        use_extra_bufts = extra_buffers_allowed(quantized=is_quantized_file(path), amx=cpu_has_amx())
    params.use_extra_bufts = use_extra_bufts
    return params


def _load_failure(path: Path, problems: list[str]) -> ModelFileError:
    why = (
        "; ".join(problems[-3:]) if problems else "llama.cpp gave no reason (enable -vv logging for details)"
    )
    return ModelFileError(
        f"llama.cpp could not load {path}: {why}. Check the file with `logos model info {path}`; "
        "if it was converted by another tool, convert the checkpoint again with `logos model convert`, "
        "or upgrade llama-cpp-python if the architecture is newer than this build."
    )


class NativeModel:
    """A llama.cpp model loaded with the low-level API; owns the pointer and frees it on close().

    Attributes:
        path: the GGUF file.
        model: the ``llama_model *`` pointer (None after close()).
        vocab: the ``llama_vocab *`` pointer of the model.
        params: the model parameters it was loaded with.
    """

    def __init__(self, path: Path, model: Any, params: llama_cpp.llama_model_params) -> None:
        self.path = path
        self.model: Any = model
        self.params = params
        self.vocab: Any = llama_lowlevel.llama_model_get_vocab(model)

    @property
    def closed(self) -> bool:
        """True once close() has freed the model."""
        return self.model is None

    def _require_open(self) -> None:
        if self.model is None:
            raise ModelFileError(f"The model {self.path} was closed. Load it again with load_model().")

    @property
    def n_vocab(self) -> int:
        """Number of tokens in the vocabulary."""
        self._require_open()
        return int(llama_lowlevel.llama_vocab_n_tokens(self.vocab))

    @property
    def n_ctx_train(self) -> int:
        """Context length the model was trained with (from the GGUF metadata)."""
        self._require_open()
        return int(llama_lowlevel.llama_model_n_ctx_train(self.model))

    @property
    def n_layer(self) -> int:
        """Number of transformer blocks."""
        self._require_open()
        return int(llama_lowlevel.llama_model_n_layer(self.model))

    @property
    def bos_id(self) -> int | None:
        """Beginning-of-sequence token id, or None when the model has none."""
        self._require_open()
        token = int(llama_lowlevel.llama_vocab_bos(self.vocab))
        return None if token < 0 else token

    @property
    def eos_id(self) -> int | None:
        """End-of-sequence token id, or None when the model has none."""
        self._require_open()
        token = int(llama_lowlevel.llama_vocab_eos(self.vocab))
        return None if token < 0 else token

    @property
    def add_bos(self) -> bool:
        """Whether tokenizing a prompt should prepend BOS (the model's own setting)."""
        self._require_open()
        return bool(llama_lowlevel.llama_vocab_get_add_bos(self.vocab))

    def is_eog(self, token: int) -> bool:
        """True when ``token`` ends generation for this model (EOS, EOT and similar)."""
        self._require_open()
        return bool(llama_lowlevel.llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Token ids of ``text``; ``special`` parses special/control token texts as single tokens."""
        self._require_open()
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (llama_lowlevel.llama_token * capacity)()
        count = llama_lowlevel.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_bos, special)
        if count < 0:
            capacity = -count
            tokens = (llama_lowlevel.llama_token * capacity)()
            count = llama_lowlevel.llama_tokenize(
                self.vocab, data, len(data), tokens, capacity, add_bos, special
            )
        return [int(t) for t in tokens[:count]]

    def token_to_piece(self, token: int, *, special: bool = True) -> bytes:
        """The bytes a token stands for (``special`` renders control tokens as their text)."""
        self._require_open()
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            count = llama_lowlevel.llama_token_to_piece(self.vocab, token, buffer, size, 0, special)
            if count >= 0:
                return buffer.raw[:count]
            size = -count

    def detokenize(self, tokens: Iterable[int], *, special: bool = True) -> str:
        """Text of a token sequence (UTF-8, invalid bytes replaced)."""
        return b"".join(self.token_to_piece(t, special=special) for t in tokens).decode(
            "utf-8", errors="replace"
        )

    def token_id(self, text: str) -> int | None:
        """The id of ``text`` when it is exactly one token (parsed as special), else None."""
        tokens = self.tokenize(text, add_bos=False, special=True)
        return tokens[0] if len(tokens) == 1 else None

    def tag_ids(self, tags: Iterable[str]) -> dict[str, int]:
        """The token id of every tag.

        Raises:
            ModelFileError: some tag is not a single token in this vocabulary (not a LOGOS model).
        """
        found: dict[str, int] = {}
        missing: list[str] = []
        for tag in tags:
            token = self.token_id(tag)
            if token is None:
                missing.append(tag)
            else:
                found[tag] = token
        if missing:
            raise ModelFileError(
                f"{self.path} does not hold the LOGOS tags {missing} as single tokens, so it is not a "
                "LOGOS model for this grammar profile. Use a LOGOS checkpoint converted with "
                "`logos model convert`, or pass the profile that matches this model."
            )
        return found

    def close(self) -> None:
        """Free the model; safe to call twice."""
        if self.model is not None:
            llama_lowlevel.llama_model_free(self.model)
            self.model = None
            self.vocab = None

    def __enter__(self) -> NativeModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def load_model(
    path: Path,
    *,
    n_gpu_layers: int | None = None,
    use_extra_bufts: bool | None = None,
    vocab_only: bool = False,
) -> NativeModel:
    """Load a GGUF model with ``llama_model_load_from_file`` and the parameters of ``model_params``.

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is not GGUF, is damaged, or llama.cpp rejects it (the message
            carries llama.cpp's own reason, e.g. an unknown architecture or pre-tokenizer).
    """
    path = Path(path).expanduser()
    check_gguf_header(path)
    params = model_params(
        path, n_gpu_layers=n_gpu_layers, use_extra_bufts=use_extra_bufts, vocab_only=vocab_only
    )
    _ensure_backend()
    mark = _problem_mark()
    pointer = llama_lowlevel.llama_model_load_from_file(str(path).encode("utf-8"), params)
    if not pointer:
        raise _load_failure(path, _problems_since(mark))
    return NativeModel(path, pointer, params)


@contextlib.contextmanager
def _llama_default_params(use_extra_bufts: bool) -> Iterator[None]:
    """Make ``llama_cpp.Llama`` build its model params with ``use_extra_bufts`` set as given."""
    if use_extra_bufts:
        yield
        return
    original = llama_lowlevel.llama_model_default_params

    def without_extra_buffers() -> llama_cpp.llama_model_params:
        params: llama_cpp.llama_model_params = original()
        params.use_extra_bufts = False
        return params

    with _DEFAULT_PARAMS_LOCK:
        llama_lowlevel.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            llama_lowlevel.llama_model_default_params = original


def open_llama(
    path: Path,
    *,
    n_ctx: int,
    n_threads: int | None = None,
    n_gpu_layers: int | None = None,
    f32_kv: bool = False,
    logits_all: bool = False,
    use_extra_bufts: bool | None = None,
    seed: int | None = None,
) -> llama_cpp.Llama:
    """A quiet ``llama_cpp.Llama`` over ``path`` with the same AMX safety as ``load_model``.

    Args:
        path: the GGUF file.
        n_ctx: context size in tokens.
        n_threads: CPU threads (None: llama-cpp-python's default).
        n_gpu_layers: layers to offload; None means all when the build supports a GPU, else 0.
        f32_kv: keep the KV cache in F32 (exact logits comparisons) instead of F16.
        logits_all: keep logits for every position (needed for log-probs and parity checks).
        use_extra_bufts: force the extra buffer types on or off; None decides automatically.
        seed: sampling seed (None: llama.cpp's default).

    Note: with ``verbose=False`` llama-cpp-python redirects the process's stdout/stderr file
    descriptors to /dev/null while the model loads. Servers that write to stdout from other
    threads (MCP over stdio) should load with ``load_model`` instead.

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is not GGUF, is damaged, or llama.cpp rejects it.
    """
    path = Path(path).expanduser()
    check_gguf_header(path)
    if use_extra_bufts is None:
        use_extra_bufts = extra_buffers_allowed(quantized=is_quantized_file(path), amx=cpu_has_amx())
    _ensure_backend()
    kwargs: dict[str, Any] = {
        "model_path": str(path),
        "n_ctx": n_ctx,
        "n_gpu_layers": default_gpu_layers() if n_gpu_layers is None else n_gpu_layers,
        "logits_all": logits_all,
        "verbose": False,
    }
    if n_threads is not None:
        kwargs["n_threads"] = n_threads
        kwargs["n_threads_batch"] = n_threads
    if f32_kv:
        kwargs["type_k"] = llama_lowlevel.GGML_TYPE_F32
        kwargs["type_v"] = llama_lowlevel.GGML_TYPE_F32
    if seed is not None:
        kwargs["seed"] = seed
    mark = _problem_mark()
    try:
        with _llama_default_params(use_extra_bufts):
            llm = llama_cpp.Llama(**kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        problems = _problems_since(mark) or [str(exc)]
        raise _load_failure(path, problems) from None
    return llm


install_log_router()
