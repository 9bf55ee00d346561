"""A scripted backend for tests that pin exact prompt bytes; it runs no model.

It is a test double and says so in every result (``backend="fake"``); claims about the runtime
are tested on the real llama.cpp backend and the demo GGUF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from logos_tools.runtime.base import (
    Backend,
    BackendInfo,
    CancelToken,
    GenerationRequest,
    GenerationResult,
    ProgressCallback,
    Sample,
    ScoreResult,
    Timings,
)

Script = Callable[[GenerationRequest, int], str]


class ScriptedBackend(Backend):
    """Answers each sample with text from ``script`` and records every request in ``history``.

    ``script`` is a list of completions used in turn (cycling), or a function of (request, index).
    A completion that ends with one of the request's stop tags finishes with reason ``"stop"``.
    """

    def __init__(self, script: Sequence[str] | Script, *, model_name: str = "scripted") -> None:
        self._script = script
        self._model_name = model_name
        self._next = 0
        self.history: list[GenerationRequest] = []
        self.scored: list[tuple[str, str]] = []

    @property
    def info(self) -> BackendInfo:
        """A fake backend serving no file."""
        return BackendInfo(
            backend="fake", model_name=self._model_name, model_path=None, sha256=None, is_demo=False
        )

    def _completion(self, request: GenerationRequest, index: int) -> str:
        if callable(self._script):
            return self._script(request, index)
        text = self._script[self._next % len(self._script)]
        self._next += 1
        return text

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Return scripted samples and remember the request."""
        self.history.append(request)
        samples = []
        for index in range(request.n):
            if cancel is not None:
                cancel.raise_if_cancelled()
            text = self._completion(request, index)
            stop_tag = next((tag for tag in request.stop if tag != "eos" and text.endswith(tag)), None)
            pseudo_tokens = list(range(max(len(text) // 4, 1)))
            samples.append(
                Sample(
                    text=text,
                    token_ids=pseudo_tokens,
                    finish_reason="stop" if stop_tag or "eos" in request.stop else "length",
                    logprobs=[-0.5] * len(pseudo_tokens) if request.logprobs else None,
                    stop_tag=stop_tag or ("eos" if "eos" in request.stop else None),
                )
            )
        return GenerationResult(samples=samples, timings=Timings(), prompt_token_ids=[])

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[ScoreResult]:
        """Pseudo-scores: -0.1 per character, enough to exercise ranking code paths."""
        self.scored.extend(pairs)
        results = []
        for prefix, continuation in pairs:
            ids = list(range(len(prefix) + len(continuation)))
            results.append(
                ScoreResult(token_ids=ids, token_logprobs=[-0.1] * (len(ids) - 1), answer_start=len(prefix))
            )
        return results
