"""The backend interface every inference engine implements, and the values that cross it.

LOGOS prompts are raw text (no chat template), so the interface is completion style: one prompt,
N samples, stop tags, sampling settings; and scoring of given texts by log-likelihood.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from logos_tools.errors import GenerationCancelled, InputError

FinishReason = Literal["stop", "length", "grammar", "deadline"]
EOS = "eos"  # in stop lists: the model's own end-of-generation tokens


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Semantics follow transformers' ``generate`` (the LOGOS reference path):
    repetition penalty over prompt and generated tokens, then temperature, top-k, top-p."""

    temperature: float = 1.2
    top_p: float = 0.85
    top_k: int = 50
    repetition_penalty: float = 1.05
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (self.temperature >= 0):
            raise InputError(f"temperature={self.temperature} must be >= 0 (0 means greedy). Use e.g. 1.2.")
        if not (0 < self.top_p <= 1):
            raise InputError(f"top_p={self.top_p} must be in (0, 1]. Use e.g. 0.85.")
        if self.top_k < 0:
            raise InputError(f"top_k={self.top_k} must be >= 0 (0 disables it). Use e.g. 50.")
        if not (self.repetition_penalty > 0):
            raise InputError(f"repetition_penalty={self.repetition_penalty} must be > 0 (1 disables it).")


@dataclass(frozen=True)
class GenerationRequest:
    """N samples continuing one prompt.

    ``stop`` holds LOGOS tags (matched as token ids, never as text) and/or ``"eos"``. ``grammar`` is
    optional GBNF text constraining every sample. ``deadline`` is a ``time.monotonic()`` instant after
    which unfinished samples end with finish reason ``"deadline"``.
    """

    prompt: str
    n: int = 1
    stop: tuple[str, ...] = (EOS,)
    max_new_tokens: int = 128
    sampling: SamplingParams = field(default_factory=SamplingParams)
    grammar: str | None = None
    logprobs: bool = True
    deadline: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.n <= 4096:
            raise InputError(f"n={self.n} samples is out of range: ask for 1 to 4096 samples per call.")
        if not 1 <= self.max_new_tokens <= 32768:
            raise InputError(f"max_new_tokens={self.max_new_tokens} is out of range: use 1 to 32768.")
        if not self.prompt:
            raise InputError("The prompt is empty: pass a LOGOS grammar prompt such as '<MoleculeS>'.")


@dataclass
class Sample:
    """One generated continuation. ``text`` keeps special tokens and includes a stop tag that ended
    it (so blocks are complete), but not the model's EOS."""

    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    logprobs: list[float] | None = None
    stop_tag: str | None = None

    @property
    def sum_logprob(self) -> float | None:
        """Log-probability of the completion under the raw model distribution."""
        return None if self.logprobs is None else float(sum(self.logprobs))


@dataclass
class Timings:
    """Where the time of one call went, in seconds."""

    prompt_eval_s: float = 0.0
    decode_s: float = 0.0
    total_s: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    prompt_cached: bool = False


@dataclass
class GenerationResult:
    """Samples of one request, in sample order, with the prompt's own log-likelihood when known."""

    samples: list[Sample]
    timings: Timings
    prompt_token_ids: list[int]
    prompt_logprobs: list[float] | None = None  # per prompt token after the first, raw model


@dataclass(frozen=True)
class ScoreResult:
    """Log-likelihood of a text, whole and over the answer span (the continuation)."""

    token_ids: list[int]
    token_logprobs: list[float]  # for tokens[1:], raw model distribution
    answer_start: int  # index into token_ids where the continuation begins

    @property
    def total_logprob(self) -> float:
        """Sum of log-probabilities of every predicted token (all but the first)."""
        return float(sum(self.token_logprobs))

    @property
    def perplexity(self) -> float:
        """Whole-text perplexity, as the LOGOS reference ranks samples."""
        return _ppl(self.token_logprobs)

    @property
    def answer_logprob(self) -> float:
        """Sum of log-probabilities of the continuation's tokens."""
        return float(sum(self.token_logprobs[max(self.answer_start - 1, 0) :]))

    @property
    def answer_perplexity(self) -> float:
        """Perplexity over the continuation only."""
        return _ppl(self.token_logprobs[max(self.answer_start - 1, 0) :])


def _ppl(logprobs: Sequence[float]) -> float:
    import math

    if not logprobs:
        return float("nan")
    return math.exp(-sum(logprobs) / len(logprobs))


@dataclass(frozen=True)
class Progress:
    """Reported after every decode step."""

    step: int
    max_steps: int
    active: int
    finished: int
    total: int
    generated_tokens: int
    elapsed_s: float


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Set from any thread to stop a generation at the next decode step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the generation to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel() was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise GenerationCancelled once cancel() was called.

        Raises:
            GenerationCancelled: the caller cancelled.
        """
        if self._event.is_set():
            raise GenerationCancelled("The generation was cancelled by its caller.")


@dataclass(frozen=True)
class BackendInfo:
    """What a backend serves: shown in every result so answers can be traced to a model."""

    backend: str
    model_name: str
    model_path: str | None
    sha256: str | None
    is_demo: bool
    architecture: str | None = None
    # Tokens one sequence (prompt + answer) may span: the smaller of the context and the model's
    # training context; None until a local model is loaded, and for remote servers.
    n_ctx: int | None = None


class Backend(abc.ABC):
    """An inference engine for LOGOS: completion-style generation and scoring."""

    @property
    @abc.abstractmethod
    def info(self) -> BackendInfo:
        """The backend and model it serves."""

    @abc.abstractmethod
    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Draw ``request.n`` samples continuing ``request.prompt``.

        Raises:
            InputError: the prompt is too long for the context or a stop tag is unknown.
            BackendError: the engine failed.
            GenerationCancelled: ``cancel`` was set.
        """

    @abc.abstractmethod
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[ScoreResult]:
        """Log-likelihood of each ``context + continuation`` text, whole and over the continuation.

        Raises:
            InputError: a text is too long for the context.
            BackendError: the engine failed.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources held by the backend."""


def monotonic_deadline(budget_s: float | None) -> float | None:
    """A ``time.monotonic()`` deadline ``budget_s`` seconds from now (None stays None)."""
    return None if budget_s is None else time.monotonic() + budget_s
