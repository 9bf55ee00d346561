"""The four ways to draw N samples from one prompt, each timed the same way, plus memory sampling.

* ``logos``: our runtime, ``LlamaCppBackend.generate`` exactly as the tasks call it (log-probs on).
* ``floor``: bare ``llama_decode`` calls replaying the batch shapes of the logos run just before it
  (same context, same prompt once, same active rows per step, same tokens), with no sampling, no
  log-probs and no text work: what llama.cpp alone needs for the same samples.
* ``naive``: llama-cpp-python's high-level API one sample at a time (``Llama.generate``, bounded by
  us: ``create_completion`` can overshoot ``max_tokens``), with its prompt-prefix cache.
* ``reference``: transformers ``generate`` on the same weights in float32, the prompt repeated N times
  in one batch as the LOGOS scripts do, with the reference sampling settings.

Every timing is wall time from a cold prompt (not cached from an earlier run) to the last token,
model loading and a warm-up excluded. Rates count generated tokens only.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from workloads import N_CTX, SAMPLING, SEED, THREADS, ModelSpec, Workload

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident set size of this process now, in MiB."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * _PAGE / 2**20


class PeakRss:
    """Samples this process's RSS every few milliseconds in a thread while the block runs."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self.peak_mb = rss_mb()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


@dataclass
class Run:
    """One measurement: the samples' texts and token ids, and how long they took."""

    completions: list[str]
    token_ids: list[list[int]]
    seconds: float
    prompt_tokens: int
    prompt_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def generated(self) -> int:
        """Generated tokens over all samples."""
        return sum(len(t) for t in self.token_ids)


class LogosPath:
    """Our runtime on one GGUF, and the floor replayed on its own context."""

    def __init__(self, spec: ModelSpec, n_gpu_layers: int | None) -> None:
        from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions

        self.spec = spec
        self.backend = LlamaCppBackend(
            spec.gguf,
            name=spec.name,
            is_demo=spec.name == "demo",
            options=LlamaCppOptions(n_ctx=N_CTX, n_threads=THREADS, n_gpu_layers=n_gpu_layers),
        )
        self.backend.load()
        self._floor_batch: Any = None

    def _forget_prompt(self) -> None:
        # The runtime keeps the last prompt's KV cells: every measurement starts from a cold prompt.
        from logos_tools.runtime import llamacpp

        self.backend._cache = llamacpp._PromptCache()

    def warm_up(self, wl: Workload) -> None:
        """One short call so first-decode allocations are not timed."""
        from logos_tools.runtime.base import GenerationRequest

        self._forget_prompt()
        self.backend.generate(GenerationRequest(prompt=wl.prompt, n=2, stop=wl.stop, max_new_tokens=4))

    def run(self, wl: Workload, n: int, *, profile: bool = False) -> Run:
        """Draw ``n`` samples with ``LlamaCppBackend.generate``, as the tasks do."""
        from logos_tools.runtime.base import GenerationRequest

        self._forget_prompt()
        request = GenerationRequest(
            prompt=wl.prompt, n=n, stop=wl.stop, max_new_tokens=wl.max_new_tokens, sampling=SAMPLING
        )
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = self.backend.generate(request)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
        extra: dict[str, Any] = {"finish": sorted({s.finish_reason for s in result.samples})}
        if profiler is not None:
            extra["profile"] = _profile_summary(profiler, seconds)
        return Run(
            completions=[s.text for s in result.samples],
            token_ids=[list(s.token_ids) for s in result.samples],
            seconds=seconds,
            prompt_tokens=result.timings.prompt_tokens,
            prompt_s=result.timings.prompt_eval_s,
            extra=extra,
        )

    def _context(self) -> tuple[Any, Any]:
        model, context = self.backend._ensure_loaded()
        self._forget_prompt()
        return model, context

    def _decoder(self, context: Any) -> Any:
        import llama_cpp
        import numpy as np

        if self._floor_batch is None:
            capacity = max(context.n_batch, context.n_seq_max)
            batch = llama_cpp.llama_batch_init(capacity, 0, 1)
            views = (
                np.ctypeslib.as_array(batch.token, shape=(capacity,)),
                np.ctypeslib.as_array(batch.pos, shape=(capacity,)),
                np.ctypeslib.as_array(batch.logits, shape=(capacity,)),
            )
            np.ctypeslib.as_array(batch.n_seq_id, shape=(capacity,))[:] = 1
            self._floor_batch = (batch, views)
        return self._floor_batch

    def _decode(
        self,
        context: Any,
        tokens: Sequence[int],
        positions: Sequence[int],
        seqs: Sequence[int] | None,
        last_only: bool,
    ) -> None:
        import llama_cpp

        batch, (token_view, pos_view, out_view) = self._decoder(context)
        count = len(tokens)
        token_view[:count] = tokens
        pos_view[:count] = positions
        out_view[:count] = 0 if last_only else 1
        out_view[count - 1] = 1
        if seqs is not None:
            for i, seq in enumerate(seqs):
                batch.seq_id[i][0] = seq
        batch.n_tokens = count
        if llama_cpp.llama_decode(context.ctx, batch) != 0:
            raise RuntimeError(f"llama_decode failed on a floor batch of {count} tokens")
        llama_cpp.llama_get_logits(context.ctx)  # synchronise, as reading logits would

    def _prompt_into(self, context: Any, prompt_ids: list[int], seq: int) -> None:
        for start in range(0, len(prompt_ids), context.n_batch):
            chunk = prompt_ids[start : start + context.n_batch]
            self._decode(context, chunk, range(start, start + len(chunk)), [seq] * len(chunk), True)

    def floor(self, wl: Workload, logos: Run) -> Run:
        """Replay the batch shapes of ``logos`` with bare decodes: prompt once, then one batch per step.

        Waves follow the runtime's rule (at most n_seq_max - 1 sequences, and as many as the context
        holds at ``max_new_tokens`` each).
        """
        model, context = self._context()
        prompt_ids = self.backend._tokenize(model, wl.prompt, add_bos=True)
        schedule = logos.token_ids
        n = len(schedule)
        room = context.n_ctx - len(prompt_ids)
        wave = max(1, min(n, context.n_seq_max - 1, room // wl.max_new_tokens))
        base = len(prompt_ids)
        context.clear()
        started = time.perf_counter()
        self._prompt_into(context, prompt_ids, 0)
        prompt_s = time.perf_counter() - started
        for first in range(0, n, wave):
            rows = list(range(first, min(first + wave, n)))
            for seq in range(1, len(rows) + 1):
                context.drop(seq)
                context.share(0, seq)
            step = 0
            while True:
                # A sample's token at ``step`` is decoded only when the sample goes on after it.
                active = [(i, r) for i, r in enumerate(rows) if len(schedule[r]) > step + 1]
                if not active:
                    break
                seqs = [i + 1 for i, _ in active]
                self._decode(
                    context,
                    [schedule[r][step] for _, r in active],
                    [base + step] * len(active),
                    seqs,
                    False,
                )
                step += 1
        seconds = time.perf_counter() - started
        context.clear()
        return Run([], schedule, seconds, len(prompt_ids), prompt_s)

    def prompt_sharing(self, wl: Workload, n: int) -> dict[str, Any]:
        """The prompt evaluated once (shared by ``n`` samples) against once per sample, same context."""
        model, context = self._context()
        prompt_ids = self.backend._tokenize(model, wl.prompt, add_bos=True)
        context.clear()
        started = time.perf_counter()
        self._prompt_into(context, prompt_ids, 0)
        once_s = time.perf_counter() - started
        context.clear()
        started = time.perf_counter()
        for _ in range(n):
            self._prompt_into(context, prompt_ids, 1)
            context.drop(1)
        per_sample_s = time.perf_counter() - started
        context.clear()
        return {"prompt_tokens": len(prompt_ids), "n": n, "once_s": once_s, "per_sample_s": per_sample_s}

    def close(self) -> None:
        """Free the floor batch and the backend."""
        import llama_cpp

        if self._floor_batch is not None:
            llama_cpp.llama_batch_free(self._floor_batch[0])
            self._floor_batch = None
        self.backend.close()


def _profile_summary(profiler: cProfile.Profile, seconds: float) -> dict[str, float]:
    """Seconds (cumulative) spent in each part of one ``generate`` call, and the rest.

    ``decode`` is every ``llama_decode`` of the call (prompt and steps, with the few microseconds of
    batch filling): the in-run floor. Everything else is our per-step work.
    """
    stats = pstats.Stats(profiler, stream=io.StringIO())
    wanted = {
        ("llamacpp.py", "decode"): "decode",
        ("sampler.py", "sample_rows"): "sample_rows",
        ("sampler.py", "log_softmax_at"): "log_softmax_at",
        ("sampler.py", "apply"): "repetition_penalty",
        ("llamacpp.py", "_sample"): "sample_text",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        key = (Path(filename).name, function)
        if key in wanted:
            found[wanted[key]] += float(row[3])
    found["other"] = max(0.0, seconds - sum(found.values()))
    found["total"] = seconds
    return {k: round(v, 4) for k, v in found.items()}


class NaivePath:
    """llama-cpp-python's high-level API, one sample after another."""

    def __init__(self, spec: ModelSpec, n_gpu_layers: int | None) -> None:
        from logos_tools.models.native import open_llama

        self.llm = open_llama(spec.gguf, n_ctx=N_CTX, n_threads=THREADS, n_gpu_layers=n_gpu_layers, seed=SEED)

    def warm_up(self, wl: Workload) -> None:
        """One short generation so first-decode allocations are not timed."""
        prompt_ids = self.llm.tokenize(wl.prompt.encode("utf-8"), add_bos=True, special=True)
        for count, _ in enumerate(self.llm.generate(prompt_ids, top_k=50, reset=True)):
            if count >= 3:
                break
        self.llm.reset()  # type: ignore[no-untyped-call]

    def run(self, wl: Workload, n: int) -> Run:
        """``n`` sequential ``Llama.generate`` loops, each stopped by us at a stop tag, EOS or the limit."""
        import llama_cpp

        llm = self.llm
        vocab = llm._model.vocab
        prompt_ids = llm.tokenize(wl.prompt.encode("utf-8"), add_bos=True, special=True)
        stop_ids = {llm.tokenize(tag.encode("utf-8"), add_bos=False, special=True)[0] for tag in wl.stop_tags}
        llm.reset()  # type: ignore[no-untyped-call]  # cold prompt, as in the other paths
        texts: list[str] = []
        ids: list[list[int]] = []
        eos_hits = 0
        started = time.perf_counter()
        for index in range(n):
            llm.set_seed(SEED + index)  # one seed per call: the same seed would repeat the same sample
            tokens: list[int] = []
            shown: list[int] = []
            for token in llm.generate(
                prompt_ids,
                top_k=SAMPLING.top_k,
                top_p=SAMPLING.top_p,
                min_p=0.0,
                temp=SAMPLING.temperature,
                repeat_penalty=SAMPLING.repetition_penalty,
                reset=True,
            ):
                tokens.append(token)
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    eos_hits += 1
                    if not wl.fixed_tokens:
                        break
                shown.append(token)
                if token in stop_ids or len(tokens) >= wl.max_new_tokens:
                    break
            ids.append(tokens)
            texts.append(llm.detokenize(shown, special=True).decode("utf-8", errors="replace"))
        seconds = time.perf_counter() - started
        return Run(texts, ids, seconds, len(prompt_ids), extra={"eog_sampled": eos_hits})

    def close(self) -> None:
        """Free the model."""
        self.llm.close()


class ReferencePath:
    """transformers ``generate`` in float32 on the same weights, the prompt batched N times."""

    def __init__(self, spec: ModelSpec, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModelForCausalLM

        from logos_tools.models.native import load_model

        torch.set_num_threads(THREADS)
        self.torch = torch
        self.device = device
        model: Any = AutoModelForCausalLM.from_pretrained(spec.hf_dir, dtype=torch.float32)
        self.model = model.to(device).eval()
        # Token ids and text come from the GGUF's own vocabulary (loaded without weights), so every
        # path sees identical prompt ids and renders samples identically.
        self.vocab = load_model(spec.gguf, vocab_only=True)
        config = self.model.config
        self.eos = int(config.eos_token_id)
        self.pad = int(config.pad_token_id if config.pad_token_id is not None else config.eos_token_id)

    def _generate(self, prompt_ids: list[int], n: int, max_new: int, ends: list[int]) -> Any:
        torch = self.torch
        ids = torch.tensor([prompt_ids] * n, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            return self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=True,
                temperature=SAMPLING.temperature,
                top_p=SAMPLING.top_p,
                top_k=SAMPLING.top_k,
                repetition_penalty=SAMPLING.repetition_penalty,
                max_new_tokens=max_new,
                eos_token_id=ends,
                pad_token_id=self.pad,
            )

    def warm_up(self, wl: Workload) -> None:
        """One short generation (first-call allocations)."""
        prompt_ids = self.vocab.tokenize(wl.prompt, add_bos=self.vocab.add_bos, special=True)
        self._generate(prompt_ids, 2, 2, [self.eos])

    def run(self, wl: Workload, n: int) -> Run:
        """One batched ``generate`` of ``n`` copies of the prompt."""
        prompt_ids = self.vocab.tokenize(wl.prompt, add_bos=self.vocab.add_bos, special=True)
        stop_ids = [self.vocab.tokenize(tag, add_bos=False, special=True)[0] for tag in wl.stop_tags]
        ends = [self.eos, *stop_ids]
        self.torch.manual_seed(SEED)
        started = time.perf_counter()
        output = self._generate(prompt_ids, n, wl.max_new_tokens, ends)
        if self.device != "cpu":
            self.torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        texts: list[str] = []
        ids: list[list[int]] = []
        eos_hits = 0
        for row in output[:, len(prompt_ids) :].tolist():
            tokens: list[int] = []
            shown: list[int] = []
            for token in row:
                tokens.append(token)
                if self.vocab.is_eog(token):
                    eos_hits += 1
                    break
                shown.append(token)
                if token in stop_ids:
                    break
            ids.append(tokens)
            texts.append(self.vocab.detokenize(shown, special=True))
        return Run(texts, ids, seconds, len(prompt_ids), extra={"eog_sampled": eos_hits})

    def close(self) -> None:
        """Drop the model."""
        self.vocab.close()
        del self.model
