"""The in-process llama.cpp backend: batched sampling of N sequences that share one prompt.

The prompt is evaluated once into sequence 0 of a unified KV cache and copied (cells are shared,
not duplicated) to sequences 1..N; every step then decodes one token for all unfinished sequences in a
single ``llama_decode`` and samples them together with numpy (``runtime.sampler``). One context is
not thread-safe, so every call holds the model's lock: concurrent callers queue.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from logos_tools.errors import BackendError, InputError
from logos_tools.models.native import NativeModel, load_model
from logos_tools.runtime.base import (
    EOS,
    Backend,
    BackendInfo,
    CancelToken,
    GenerationRequest,
    GenerationResult,
    Progress,
    ProgressCallback,
    Sample,
    ScoreResult,
    Timings,
)
from logos_tools.runtime.grammar_constraint import GrammarConstraint
from logos_tools.runtime.sampler import FloatArray, PenaltyTracker, log_softmax_at, sample_rows

logger = logging.getLogger(__name__)

LLAMA_MAX_SEQ = 256  # llama.cpp's compile-time cap on sequences per context
LOCK_POLL_S = 0.05  # how often a call waiting for the model looks at its cancel token


@dataclass(frozen=True)
class LlamaCppOptions:
    """How to run a GGUF file in-process."""

    n_ctx: int = 8192
    n_threads: int | None = None
    n_gpu_layers: int | None = None  # None: all layers when the build can offload, else none
    n_seq_max: int = 129  # one prompt sequence + up to 128 samples per wave
    n_batch: int = 512
    f32_kv: bool = False  # f32 KV cache: slower, bit-closer to transformers (scoring parity checks)


class _Context:
    """A llama.cpp context plus one reusable batch, with numpy views on the batch arrays."""

    def __init__(self, model: NativeModel, options: LlamaCppOptions) -> None:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = options.n_ctx
        params.n_batch = options.n_batch
        params.n_ubatch = options.n_batch
        params.n_seq_max = min(options.n_seq_max, LLAMA_MAX_SEQ)
        params.kv_unified = True
        threads = options.n_threads or os.cpu_count() or 1
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        if options.f32_kv:
            params.type_k = params.type_v = 0  # GGML_TYPE_F32
        self.ctx = llama_cpp.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise BackendError(
                f"llama.cpp could not create a context of {options.n_ctx} tokens for {model.path}. "
                "Lower LOGOS_N_CTX (e.g. 4096) or free memory."
            )
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx))
        self.n_seq_max = int(params.n_seq_max)
        self.n_batch = options.n_batch
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        capacity = max(self.n_batch, self.n_seq_max)
        self.batch = llama_cpp.llama_batch_init(capacity, 0, 1)
        self.capacity = capacity
        self._tokens = np.ctypeslib.as_array(self.batch.token, shape=(capacity,))
        self._pos = np.ctypeslib.as_array(self.batch.pos, shape=(capacity,))
        self._n_seq = np.ctypeslib.as_array(self.batch.n_seq_id, shape=(capacity,))
        self._logits = np.ctypeslib.as_array(self.batch.logits, shape=(capacity,))
        self._n_seq[:] = 1

    def decode(
        self, tokens: Sequence[int], positions: Sequence[int], seqs: Sequence[int], outputs: Sequence[bool]
    ) -> int:
        """Decode one batch; returns the number of output rows. Raises BackendError on failure."""
        n = len(tokens)
        self._tokens[:n] = tokens
        self._pos[:n] = positions
        self._logits[:n] = outputs
        for i, seq in enumerate(seqs):
            self.batch.seq_id[i][0] = seq
        self.batch.n_tokens = n
        status = llama_cpp.llama_decode(self.ctx, self.batch)
        if status != 0:
            raise BackendError(
                f"llama_decode failed with status {status} on a batch of {n} tokens "
                f"(context {self.n_ctx} tokens). Ask for fewer samples or tokens, or raise LOGOS_N_CTX."
            )
        return int(sum(outputs))

    def logits(self, rows: int, n_vocab: int) -> FloatArray:
        """A view (valid until the next decode) of the output rows of the last decode."""
        pointer = llama_cpp.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(pointer, shape=(rows, n_vocab))

    def clear(self) -> None:
        """Forget every sequence."""
        llama_cpp.llama_memory_clear(self.memory, True)

    def drop(self, seq: int, start: int = -1) -> None:
        """Remove cells of ``seq`` from position ``start`` on (all of them by default)."""
        llama_cpp.llama_memory_seq_rm(self.memory, seq, start, -1)

    def share(self, src: int, dst: int) -> None:
        """Make ``dst`` see every cell of ``src`` (no copy of the data)."""
        llama_cpp.llama_memory_seq_cp(self.memory, src, dst, -1, -1)

    def close(self) -> None:
        """Free the batch and the context."""
        if self.ctx:
            llama_cpp.llama_batch_free(self.batch)
            llama_cpp.llama_free(self.ctx)
            self.ctx = None


@contextmanager
def _holding(lock: threading.Lock, cancel: CancelToken | None) -> Iterator[None]:
    """Hold ``lock``; while waiting for it, stop as soon as ``cancel`` is set.

    A call queued behind another (up to a background job's whole budget) must not have to wait for
    the model only to be told it was cancelled.

    Raises:
        GenerationCancelled: ``cancel`` was set before the lock was free.
    """
    if cancel is None:
        lock.acquire()
    else:
        while not lock.acquire(timeout=LOCK_POLL_S):
            cancel.raise_if_cancelled()
    try:
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield
    finally:
        lock.release()


def _sequence_room(model: NativeModel, context: _Context) -> int:
    """Tokens one sequence may span: the context, or the model's training context if smaller."""
    return min(model.n_ctx_train or context.n_ctx, context.n_ctx)


@dataclass
class _PromptCache:
    token_ids: tuple[int, ...] = ()
    last_logits: FloatArray | None = None
    prompt_logprobs: list[float] | None = None


class LlamaCppBackend(Backend):
    """LOGOS on llama.cpp in this process. Loads the GGUF lazily on first use."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        sha256: str | None = None,
        is_demo: bool = False,
        options: LlamaCppOptions | None = None,
    ) -> None:
        self.path = Path(path)
        self.options = options or LlamaCppOptions()
        self._name, self._sha256, self._is_demo = name, sha256, is_demo
        self._lock = threading.Lock()
        self._model: NativeModel | None = None
        self._context: _Context | None = None
        self._cache = _PromptCache()
        self._pieces: dict[int, bytes] = {}
        self._eog: np.ndarray | None = None
        self.prompt_tokens_evaluated = 0  # prompt tokens decoded so far (cache hits add nothing)

    # -- loading ---------------------------------------------------------------------------
    @property
    def info(self) -> BackendInfo:
        """The backend, model name, file, hash and demo flag."""
        return BackendInfo(
            backend="llamacpp",
            model_name=self._name,
            model_path=str(self.path),
            sha256=self._sha256,
            is_demo=self._is_demo,
            n_ctx=_sequence_room(self._model, self._context) if self._model and self._context else None,
        )

    @property
    def loaded(self) -> bool:
        """Whether the model file is loaded."""
        return self._model is not None

    def load(self) -> None:
        """Load the model and create the context now instead of on first use.

        Raises:
            ModelFileError: the file is not a loadable GGUF.
            BackendError: the context cannot be created.
        """
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> tuple[NativeModel, _Context]:
        if self._model is None:
            started = time.perf_counter()
            self._model = load_model(self.path, n_gpu_layers=self.options.n_gpu_layers)
            n_vocab = self._model.n_vocab
            self._eog = np.fromiter(
                (bool(llama_cpp.llama_vocab_is_eog(self._model.vocab, t)) for t in range(n_vocab)),
                dtype=bool,
                count=n_vocab,
            )
            logger.info("loaded %s in %.2f s", self.path, time.perf_counter() - started)
        if self._context is None:
            self._context = _Context(self._model, self.options)
        return self._model, self._context

    def close(self) -> None:
        """Free the context and the model."""
        with self._lock:
            if self._context is not None:
                self._context.close()
                self._context = None
            if self._model is not None:
                self._model.close()
                self._model = None
            self._cache = _PromptCache()

    # -- tokens ----------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        """Token ids of ``text``; LOGOS tags and other special tokens are parsed as single tokens."""
        with self._lock:
            model, _ = self._ensure_loaded()
            return self._tokenize(model, text, add_bos=add_bos)

    def _tokenize(self, model: NativeModel, text: str, *, add_bos: bool) -> list[int]:
        return model.tokenize(text, add_bos=add_bos and model.add_bos, special=True)

    def _piece(self, model: NativeModel, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = model.token_to_piece(token, special=True)
        return piece

    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens`` with special tokens rendered."""
        with self._lock:
            model, _ = self._ensure_loaded()
            return b"".join(self._piece(model, t) for t in tokens).decode("utf-8", errors="replace")

    def _stop_ids(self, model: NativeModel, stop: Sequence[str]) -> dict[int, str]:
        ids: dict[int, str] = {}
        for tag in stop:
            if tag == EOS:
                continue
            tokens = self._tokenize(model, tag, add_bos=False)
            if len(tokens) != 1:
                raise InputError(
                    f"Stop tag {tag!r} is {len(tokens)} tokens in {self.path.name}, not one. "
                    "Stop tags must be LOGOS tags of the model's vocabulary; check the model and profile."
                )
            ids[tokens[0]] = tag
        return ids

    # -- generation ------------------------------------------------------------------------
    def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Draw ``request.n`` samples with one shared prompt evaluation and batched decoding.

        Raises:
            InputError: the prompt does not fit the context, or a stop tag is not one token.
            BackendError: llama.cpp failed.
            GenerationCancelled: ``cancel`` was set.
        """
        with _holding(self._lock, cancel):
            model, context = self._ensure_loaded()
            return _Generation(self, model, context, request, progress, cancel).run()

    def _evaluate_prompt(
        self, model: NativeModel, context: _Context, prompt_ids: list[int], want_logprobs: bool
    ) -> tuple[FloatArray, list[float] | None, bool]:
        """Logits after the prompt (a copy) and the prompt's log-probs; reuses the last prompt's cells."""
        cache = self._cache
        hit = (
            cache.token_ids == tuple(prompt_ids)
            and cache.last_logits is not None
            and (cache.prompt_logprobs is not None or not want_logprobs)
        )
        for seq in range(1, context.n_seq_max):
            context.drop(seq)
        if hit and cache.last_logits is not None:
            return cache.last_logits, cache.prompt_logprobs, True
        context.clear()
        self._cache = _PromptCache()
        self.prompt_tokens_evaluated += len(prompt_ids)
        logprobs: list[float] = []
        last: FloatArray | None = None
        previous_row: FloatArray | None = None
        for start in range(0, len(prompt_ids), context.n_batch):
            chunk = prompt_ids[start : start + context.n_batch]
            final = start + len(chunk) == len(prompt_ids)
            outputs = [want_logprobs or (final and i == len(chunk) - 1) for i in range(len(chunk))]
            rows = context.decode(chunk, range(start, start + len(chunk)), [0] * len(chunk), outputs)
            logits = context.logits(rows, model.n_vocab)
            if want_logprobs:
                if previous_row is not None:
                    logprobs.extend(log_softmax_at(previous_row[None, :], np.asarray(chunk[:1])).tolist())
                if len(chunk) > 1:
                    logprobs.extend(log_softmax_at(logits[:-1], np.asarray(chunk[1:])).tolist())
                previous_row = logits[-1].copy()
            last = logits[-1].copy()
        assert last is not None
        self._cache = _PromptCache(tuple(prompt_ids), last, logprobs if want_logprobs else None)
        return last, (logprobs if want_logprobs else None), False

    # -- scoring ---------------------------------------------------------------------------
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[ScoreResult]:
        """Log-likelihood of each ``context + continuation``, several texts per decode.

        Raises:
            InputError: a text is longer than the context.
            BackendError: llama.cpp failed.
        """
        with self._lock:
            model, context = self._ensure_loaded()
            encoded = []
            for prefix, continuation in pairs:
                head = self._tokenize(model, prefix, add_bos=True)
                tail = self._tokenize(model, continuation, add_bos=False) if continuation else []
                ids = head + tail
                if len(ids) > min(context.n_ctx, context.n_batch * 64):
                    raise InputError(
                        f"A text to score is {len(ids)} tokens, longer than the context "
                        f"({context.n_ctx}). Score shorter texts or raise LOGOS_N_CTX."
                    )
                encoded.append((ids, len(head)))
            self._cache = _PromptCache()
            return [self._score_one(model, context, ids, start) for ids, start in encoded]

    def _score_one(
        self, model: NativeModel, context: _Context, ids: list[int], answer_start: int
    ) -> ScoreResult:
        context.clear()
        logprobs: list[float] = []
        previous_row: FloatArray | None = None
        for start in range(0, len(ids), context.n_batch):
            chunk = ids[start : start + context.n_batch]
            rows = context.decode(
                chunk, range(start, start + len(chunk)), [0] * len(chunk), [True] * len(chunk)
            )
            logits = context.logits(rows, model.n_vocab)
            if previous_row is not None:
                logprobs.extend(log_softmax_at(previous_row[None, :], np.asarray(chunk[:1])).tolist())
            if len(chunk) > 1:
                logprobs.extend(log_softmax_at(logits[:-1], np.asarray(chunk[1:])).tolist())
            previous_row = logits[-1].copy()
        context.clear()
        return ScoreResult(token_ids=ids, token_logprobs=logprobs, answer_start=answer_start)


class _Generation:
    """One generate() call: waves of at most n_seq_max - 1 sequences sharing the prompt."""

    def __init__(
        self,
        backend: LlamaCppBackend,
        model: NativeModel,
        context: _Context,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        self.backend, self.model, self.context, self.request = backend, model, context, request
        self.progress, self.cancel = progress, cancel
        self.rng = np.random.default_rng(request.sampling.seed)
        assert backend._eog is not None
        self.eog: np.ndarray = backend._eog

    def run(self) -> GenerationResult:
        request, model, context = self.request, self.model, self.context
        started = time.perf_counter()
        prompt_ids = self.backend._tokenize(model, request.prompt, add_bos=True)
        stop_ids = self.backend._stop_ids(model, request.stop)
        per_sequence = len(prompt_ids) + request.max_new_tokens
        limit = _sequence_room(model, context)
        if per_sequence > limit:
            raise InputError(
                f"The prompt is {len(prompt_ids)} tokens and max_new_tokens is {request.max_new_tokens}: "
                f"{per_sequence} exceeds the model's context of {limit} tokens. Shorten the input "
                "or lower max_new_tokens."
            )
        room = context.n_ctx - len(prompt_ids)
        wave = max(1, min(request.n, context.n_seq_max - 1, room // request.max_new_tokens))
        constraint = GrammarConstraint.compile(model.vocab, request.grammar) if request.grammar else None
        last_logits, prompt_logprobs, cached = self.backend._evaluate_prompt(
            model, context, prompt_ids, request.logprobs
        )
        prompt_s = time.perf_counter() - started
        samples: list[Sample] = []
        self._done_before = 0
        try:
            for first in range(0, request.n, wave):
                count = min(wave, request.n - first)
                samples.extend(self._run_wave(prompt_ids, last_logits, count, stop_ids, constraint, started))
                self._done_before += count
        finally:
            if constraint is not None:
                constraint.close()
        total = time.perf_counter() - started
        timings = Timings(
            prompt_eval_s=prompt_s,
            decode_s=total - prompt_s,
            total_s=total,
            prompt_tokens=len(prompt_ids),
            generated_tokens=sum(len(s.token_ids) for s in samples),
            prompt_cached=cached,
        )
        return GenerationResult(samples, timings, prompt_ids, prompt_logprobs)

    def _run_wave(
        self,
        prompt_ids: list[int],
        last_logits: FloatArray,
        count: int,
        stop_ids: dict[int, str],
        constraint: GrammarConstraint | None,
        started: float,
    ) -> list[Sample]:
        request, context, model = self.request, self.context, self.model
        for seq in range(1, count + 1):
            context.drop(seq)
            context.share(0, seq)
        tracker = PenaltyTracker(prompt_ids, count)
        states = [constraint.new_state() for _ in range(count)] if constraint else None
        tokens: list[list[int]] = [[] for _ in range(count)]
        logprobs: list[list[float]] = [[] for _ in range(count)]
        finish: list[Sample | None] = [None] * count
        active = list(range(count))
        raw: FloatArray = np.repeat(last_logits[None, :], count, axis=0)
        params = request.sampling
        max_steps = request.max_new_tokens
        for step in range(max_steps):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            if request.deadline is not None and time.monotonic() >= request.deadline:
                for row in active:
                    finish[row] = self._sample(tokens[row], logprobs[row], "deadline", None)
                break
            rows = np.asarray(active, dtype=np.int64)
            work = np.array(raw, dtype=np.float32)
            tracker.apply(work, rows, params.repetition_penalty)
            picked = sample_rows(work, params, self.rng)
            if states is not None and constraint is not None:
                picked = constraint.enforce(work, picked, [states[r] for r in active], params, self.rng)
            chosen_logprobs = log_softmax_at(raw, np.maximum(picked, 0)) if request.logprobs else None
            still: list[int] = []
            for line, row in enumerate(active):
                token = int(picked[line])
                if token < 0:
                    finish[row] = self._sample(tokens[row], logprobs[row], "grammar", None)
                    continue
                tokens[row].append(token)
                if chosen_logprobs is not None:
                    logprobs[row].append(float(chosen_logprobs[line]))
                tracker.add(row, token)
                if states is not None and constraint is not None:
                    constraint.accept(states[row], token)
                if token in stop_ids:
                    finish[row] = self._sample(tokens[row], logprobs[row], "stop", stop_ids[token])
                elif self.eog[token]:  # end-of-generation always ends a sample
                    finish[row] = self._sample(tokens[row], logprobs[row], "stop", EOS)
                elif len(tokens[row]) >= max_steps:
                    finish[row] = self._sample(tokens[row], logprobs[row], "length", None)
                else:
                    still.append(row)
            active = still
            if self.progress is not None:
                self.progress(
                    Progress(
                        step=step + 1,
                        max_steps=max_steps,
                        active=len(active),
                        finished=self._done_before + count - len(active),
                        total=request.n,
                        generated_tokens=sum(len(t) for t in tokens),
                        elapsed_s=time.perf_counter() - started,
                    )
                )
            if not active:
                break
            base = len(prompt_ids)
            context.decode(
                [tokens[r][-1] for r in active],
                [base + len(tokens[r]) - 1 for r in active],
                [r + 1 for r in active],
                [True] * len(active),
            )
            raw = context.logits(len(active), model.n_vocab)
        if states is not None and constraint is not None:
            for state in states:
                constraint.free_state(state)
        return [
            s if s is not None else self._sample(t, lp, "length", None)
            for s, t, lp in zip(finish, tokens, logprobs, strict=True)
        ]

    def _sample(self, tokens: list[int], logprobs: list[float], reason: str, stop_tag: str | None) -> Sample:
        shown = tokens[:-1] if stop_tag == EOS else tokens
        text = b"".join(self.backend._piece(self.model, t) for t in shown).decode("utf-8", errors="replace")
        return Sample(
            text=text,
            token_ids=list(tokens),
            finish_reason=reason,  # type: ignore[arg-type]
            logprobs=list(logprobs) if self.request.logprobs else None,
            stop_tag=stop_tag,
        )
