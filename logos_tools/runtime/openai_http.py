"""A backend for OpenAI-compatible ``/v1/completions`` servers: vLLM, SGLang, llama-server,
``llama_cpp.server`` — the way to run the same tools against a LOGOS model on a GPU cluster.

Prompts are sent raw (no chat template). N samples are N parallel requests (seeded ``seed + i`` so
runs repeat), each retried with backoff on 429/502/503/504. Servers differ in the extras they honour;
the request carries the llama.cpp names (``top_k``, ``repeat_penalty``, ``grammar``) and the vLLM/SGLang
names (``repetition_penalty``, ``skip_special_tokens=false``, ``include_stop_str_in_output``); unknown
fields are ignored by all of them.

Limitation: a server that strips special tokens from text (a GGUF whose LOGOS tags are CONTROL tokens
behind llama.cpp servers) returns answers without tags; that is detected and reported as an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from logos_tools.errors import BackendError, BackendUnavailableError, GenerationCancelled
from logos_tools.runtime.base import (
    EOS,
    Backend,
    BackendInfo,
    CancelToken,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    Progress,
    ProgressCallback,
    Sample,
    ScoreResult,
    Timings,
)

logger = logging.getLogger(__name__)
_RETRY_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class OpenAIOptions:
    """Where the server is and how patiently to talk to it."""

    base_url: str
    api_key: str | None = None
    model: str | None = None  # the id the server serves; checked against /models when given
    timeout_s: float = 120.0
    max_parallel: int = 8
    max_retries: int = 4
    backoff_s: float = 0.5


class OpenAICompatibleBackend(Backend):
    """LOGOS served by an OpenAI-compatible completions endpoint."""

    def __init__(self, options: OpenAIOptions, *, transport: httpx.BaseTransport | None = None) -> None:
        self.options = options
        headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
        self._client = httpx.Client(
            base_url=options.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(options.timeout_s, connect=10.0),
            transport=transport,
        )
        self._served: str | None = None

    @property
    def info(self) -> BackendInfo:
        """The server URL and the model id it serves."""
        return BackendInfo(
            backend="openai",
            model_name=self._served or self.options.model or "unknown",
            model_path=self.options.base_url,
            sha256=None,
            is_demo="demo" in (self._served or self.options.model or ""),
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    # -- transport -------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload: dict[str, Any] | None, timeout: float | None) -> Any:
        attempt = 0
        while True:
            try:
                response = self._client.request(
                    method,
                    path,
                    json=payload,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TimeoutException as exc:
                raise BackendError(
                    f"{self.options.base_url} did not answer {path} within {timeout or self.options.timeout_s:.0f} s. "
                    "Ask for fewer samples or tokens, or raise the timeout."
                ) from exc
            except httpx.TransportError as exc:
                if attempt < self.options.max_retries:
                    attempt += 1
                    time.sleep(self.options.backoff_s * 2 ** (attempt - 1))
                    continue
                raise BackendUnavailableError(
                    f"Cannot reach the LOGOS server at {self.options.base_url} ({exc}). Start it (e.g. "
                    "`python -m llama_cpp.server --model FILE.gguf`) or fix LOGOS_OPENAI_BASE_URL."
                ) from exc
            if response.status_code in _RETRY_STATUS and attempt < self.options.max_retries:
                attempt += 1
                retry_after = response.headers.get("retry-after", "")
                delay = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 0.0
                time.sleep(max(delay, self.options.backoff_s * 2 ** (attempt - 1)))
                continue
            if response.status_code >= 400:
                raise BackendError(
                    f"{self.options.base_url}{path} answered HTTP {response.status_code}: "
                    f"{response.text[:300]}. Check the request parameters and the server log."
                )
            try:
                return response.json()
            except ValueError as exc:
                raise BackendError(
                    f"{self.options.base_url}{path} did not answer JSON: {response.text[:200]!r}."
                ) from exc

    def check(self) -> list[str]:
        """The model ids the server serves; fails when the expected one is not among them.

        Raises:
            BackendUnavailableError: the server cannot be reached or serves another model.
        """
        body = self._request("GET", "models", None, None)
        served = [str(item.get("id")) for item in body.get("data", []) if isinstance(item, dict)]
        if self.options.model and self.options.model not in served:
            raise BackendUnavailableError(
                f"The server at {self.options.base_url} serves {served or 'no models'}, not "
                f"{self.options.model!r}. Point LOGOS_OPENAI_BASE_URL at the right server or set "
                "LOGOS_OPENAI_MODEL to one of those ids."
            )
        self._served = self.options.model or (served[0] if served else None)
        return served

    def _model_field(self) -> dict[str, str]:
        if self._served is None:
            self.check()
        return {"model": self._served} if self._served else {}

    # -- generation ------------------------------------------------------------------------
    def _payload(self, request: GenerationRequest, index: int) -> dict[str, Any]:
        params = request.sampling
        tags = [tag for tag in request.stop if tag != EOS]
        payload: dict[str, Any] = {
            **self._model_field(),
            "prompt": request.prompt,
            "max_tokens": request.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k if params.top_k > 0 else -1,
            "repeat_penalty": params.repetition_penalty,
            "repetition_penalty": params.repetition_penalty,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "include_stop_str_in_output": True,
            "n": 1,
        }
        if tags:
            payload["stop"] = tags
        if params.seed is not None:
            payload["seed"] = params.seed + index
        if request.logprobs:
            payload["logprobs"] = 1
        if request.grammar:
            payload["grammar"] = request.grammar
        return payload

    def _one(self, request: GenerationRequest, index: int, cancel: CancelToken | None) -> Sample:
        if cancel is not None and cancel.cancelled:
            raise GenerationCancelled("The generation was cancelled by its caller.")
        timeout = None
        if request.deadline is not None:
            timeout = request.deadline - time.monotonic()
            if timeout <= 0:
                return Sample(
                    text="", token_ids=[], finish_reason="deadline", logprobs=[] if request.logprobs else None
                )
        body = self._request("POST", "completions", self._payload(request, index), timeout)
        try:
            choice = body["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"The server's completion has no choices: {str(body)[:200]}.") from exc
        return _sample_from_choice(choice, request)

    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Draw ``request.n`` samples as parallel requests.

        Raises:
            BackendUnavailableError: the server is unreachable or serves another model.
            BackendError: the server failed or answered something unusable.
            GenerationCancelled: ``cancel`` was set before all requests were sent.
        """
        started = time.perf_counter()
        self._model_field()
        samples: list[Sample | None] = [None] * request.n
        with ThreadPoolExecutor(max_workers=min(self.options.max_parallel, request.n)) as pool:
            futures = {pool.submit(self._one, request, i, cancel): i for i in range(request.n)}
            for done, (future, index) in enumerate(futures.items(), start=1):
                samples[index] = future.result()
                if progress is not None:
                    progress(
                        Progress(
                            step=done,
                            max_steps=request.n,
                            active=request.n - done,
                            finished=done,
                            total=request.n,
                            generated_tokens=sum(len(s.token_ids) for s in samples if s),
                            elapsed_s=time.perf_counter() - started,
                        )
                    )
        final = [s for s in samples if s is not None]
        _check_tags_survived(final, request, self.options.base_url)
        total = time.perf_counter() - started
        timings = Timings(
            decode_s=total, total_s=total, generated_tokens=sum(len(s.token_ids) for s in final)
        )
        return GenerationResult(samples=final, timings=timings, prompt_token_ids=[])

    # -- scoring ---------------------------------------------------------------------------
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[ScoreResult]:
        """Prompt log-probs through ``echo`` + ``logprobs`` (llama_cpp.server with logits_all, vLLM).

        Raises:
            BackendError: the server does not return prompt log-probabilities.
        """
        return [self._score_one(prefix, continuation) for prefix, continuation in pairs]

    def _score_one(self, prefix: str, continuation: str) -> ScoreResult:
        payload = {
            **self._model_field(),
            "prompt": prefix + continuation,
            "max_tokens": 1,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        body = self._request("POST", "completions", payload, None)
        logprobs = (body.get("choices") or [{}])[0].get("logprobs") or {}
        values = logprobs.get("token_logprobs")
        offsets = logprobs.get("text_offset")
        if not values or not offsets:
            raise BackendError(
                f"{self.options.base_url} returned no prompt log-probabilities for scoring. Use a server "
                "that supports echo with logprobs (llama_cpp.server with logits_all, vLLM)."
            )
        text_length = len(prefix + continuation)
        count = sum(1 for offset in offsets if offset < text_length) or len(values)
        starts_answer = next((i for i, offset in enumerate(offsets[:count]) if offset >= len(prefix)), count)
        if values[0] is None:
            # vLLM style: the first echoed token is the unconditioned start (like a BOS); drop it.
            logprobs = [float(v) for v in values[1:count]]
            return ScoreResult(
                token_ids=list(range(count)), token_logprobs=logprobs, answer_start=starts_answer
            )
        # llama.cpp style: BOS is not echoed, the first text token is already conditioned on it.
        logprobs = [float(v) for v in values[:count]]
        return ScoreResult(
            token_ids=list(range(count + 1)), token_logprobs=logprobs, answer_start=starts_answer + 1
        )


def _sample_from_choice(choice: dict[str, Any], request: GenerationRequest) -> Sample:
    text = str(choice.get("text") or "")
    finish = choice.get("finish_reason")
    stop_reason = choice.get("stop_reason")
    tags = [tag for tag in request.stop if tag != EOS]
    stop_tag: str | None = next((tag for tag in tags if text.endswith(tag)), None)
    if stop_tag is None and finish == "stop" and tags:
        if isinstance(stop_reason, str) and stop_reason in tags:
            stop_tag = stop_reason
        elif stop_reason is None and len(tags) == 1:
            # The server cut the stop string from the text and does not say which stop fired; with
            # one tag asked for, the tag is the stop unless the model ended with EOS at that point.
            stop_tag = tags[0]
        if stop_tag is not None:
            text += stop_tag
    logprobs_body = choice.get("logprobs") or {}
    values = [float(v) for v in (logprobs_body.get("token_logprobs") or []) if v is not None]
    reason: FinishReason = "length" if finish == "length" else "stop"
    return Sample(
        text=text,
        token_ids=list(range(len(values))),
        finish_reason=reason,
        logprobs=values if request.logprobs else None,
        stop_tag=stop_tag or (EOS if reason == "stop" else None),
    )


def _check_tags_survived(samples: list[Sample], request: GenerationRequest, url: str) -> None:
    expects_tags = any(tag != EOS for tag in request.stop) or "<" in request.prompt
    nonempty = [s for s in samples if s.text.strip()]
    if expects_tags and nonempty and all("<" not in s.text for s in nonempty) and request.max_new_tokens > 8:
        raise BackendError(
            f"The server at {url} returned answers without any LOGOS tags: it strips special tokens. "
            "Start llama-server with --special, or vLLM/SGLang with skip_special_tokens=false honoured, "
            "or convert the model with `logos model convert` (tags as user-defined tokens)."
        )
