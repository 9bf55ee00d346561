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
    max_retry_wait_s: float = 30.0  # a longer Retry-After (or backoff) gives up instead of waiting


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
    def _url(self, path: str) -> str:
        return f"{self.options.base_url.rstrip('/')}/{path}"

    def _unreachable(self, exc: Exception, attempts: int) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"Cannot reach the LOGOS server at {self.options.base_url} ({exc or type(exc).__name__}; "
            f"{attempts} attempts). Start it (e.g. `python -m llama_cpp.server --model FILE.gguf`) or fix "
            "LOGOS_OPENAI_BASE_URL."
        )

    def _http_error(self, response: httpx.Response, path: str, attempts: int) -> BackendError:
        status = response.status_code
        url = self._url(path)
        body = response.text[:300]
        if status in _RETRY_STATUS:
            wait = _retry_after(response)
            why = (
                f"because it asks to wait {wait:g} s (Retry-After), longer than the {self.options.max_retry_wait_s:g} s "
                "this client waits or than the time left"
                if attempts <= self.options.max_retries
                else f"after {attempts} attempts with exponential backoff from {self.options.backoff_s:g} s"
            )
            return BackendUnavailableError(
                f"{url} answered HTTP {status} (busy or unavailable); giving up {why}. Its answer: {body}. Retry later, "
                "ask for fewer samples at once, or give the server more capacity."
            )
        if status in (401, 403):
            return BackendUnavailableError(
                f"{url} refused the request with HTTP {status}: {body}. Set LOGOS_OPENAI_API_KEY to a key "
                "this server accepts."
            )
        if status == 404:
            return BackendUnavailableError(
                f"{url} answered HTTP 404: {body}. The server has no OpenAI-compatible {path} endpoint "
                "there: LOGOS_OPENAI_BASE_URL must be the API root, usually ending in /v1 "
                "(e.g. http://127.0.0.1:8000/v1)."
            )
        if status >= 500:
            return BackendError(f"{url} failed with HTTP {status}: {body}. See the server's log.")
        return BackendError(
            f"{url} answered HTTP {status}: {body}. The server refused the request parameters; see its log."
        )

    def _request(self, method: str, path: str, payload: dict[str, Any] | None, timeout: float | None) -> Any:
        """One JSON exchange, retried with exponential backoff on connection errors and 429/502/503/504.

        Raises:
            BackendUnavailableError: unreachable, still busy after every retry, 401/403 or 404.
            BackendError: a timeout, another HTTP error, or an answer that is not a JSON object.
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic() if deadline is not None else None
            try:
                response = self._client.request(
                    method,
                    path,
                    json=payload,
                    timeout=remaining if remaining is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                read_timeout = isinstance(exc, httpx.TimeoutException) and not isinstance(
                    exc, httpx.ConnectTimeout
                )
                if read_timeout:
                    limit = timeout if timeout is not None else self.options.timeout_s
                    raise BackendError(
                        f"{self._url(path)} did not answer within {limit:.1f} s. Ask for fewer samples or "
                        "tokens, or raise the timeout."
                    ) from exc
                if attempt > self.options.max_retries or not self._wait(attempt, 0.0, deadline):
                    raise self._unreachable(exc, attempt) from exc
                continue
            retryable = response.status_code in _RETRY_STATUS and attempt <= self.options.max_retries
            if retryable and self._wait(attempt, _retry_after(response), deadline):
                continue
            if response.status_code >= 400:
                raise self._http_error(response, path, attempt)
            try:
                body = response.json()
            except ValueError as exc:
                raise BackendError(
                    f"{self._url(path)} did not answer JSON: {response.text[:200]!r}. LOGOS_OPENAI_BASE_URL "
                    "must point at an OpenAI-compatible API (usually ending in /v1)."
                ) from exc
            if not isinstance(body, dict):
                raise BackendError(
                    f"{self._url(path)} answered {str(body)[:200]}, not a JSON object, so it is not an "
                    "OpenAI-compatible API. Point LOGOS_OPENAI_BASE_URL at one (usually ending in /v1)."
                )
            return body

    def _wait(self, attempt: int, retry_after: float, deadline: float | None) -> bool:
        """Sleep before retry ``attempt + 1``; False when the wait would pass the cap or the deadline."""
        delay = max(retry_after, self.options.backoff_s * 2 ** (attempt - 1))
        if delay > self.options.max_retry_wait_s:
            return False
        if deadline is not None and time.monotonic() + delay >= deadline:
            return False
        logger.info("retrying %s in %.2f s (attempt %d)", self.options.base_url, delay, attempt + 1)
        time.sleep(delay)
        return True

    def check(self) -> list[str]:
        """The model ids the server serves; fails when the expected one is not among them.

        Raises:
            BackendUnavailableError: the server cannot be reached, has no /models endpoint at the
                base URL, or serves another model.
            BackendError: the server failed or answered something that is not the OpenAI API.
        """
        body = self._request("GET", "models", None, None)
        data = body.get("data")
        served = (
            [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
            if isinstance(data, list)
            else []
        )
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
        choices = body.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            raise BackendError(
                f"{self._url('completions')} answered without a completion choice: {str(body)[:200]}. "
                "Use an OpenAI-compatible completions server (vLLM, SGLang, llama-server, llama_cpp.server)."
            )
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


def _retry_after(response: httpx.Response) -> float:
    """Seconds the server asks to wait (``Retry-After`` in seconds; dates and junk count as 0)."""
    raw = response.headers.get("retry-after", "").strip()
    try:
        value = float(raw)
    except ValueError:
        return 0.0
    return value if value >= 0 else 0.0


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
