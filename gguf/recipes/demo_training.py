"""Train the demo Llama on CPU, deterministically: fixed seeds, fixed thread count, fixed batch order.

Documents are never packed together: each training row is BOS + one document + EOS, right-padded,
so the model sees every task exactly as the runtime will prompt it (prompt at position 0).
Rows of similar length share a batch (a token budget per batch), which keeps padding small.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelShape:
    """The demo model's architecture (llama, GQA, untied head like LOGOS-pretrain-1B)."""

    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    rope_theta: float = 500000.0


@dataclass(frozen=True)
class TrainPlan:
    """Optimiser settings and length of the run (in steps, never in wall time: determinism)."""

    steps: int
    tokens_per_batch: int = 8192
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    seed: int = 1234
    threads: int = 2


def llama_config(shape: ModelShape, vocab_size: int, bos: int, eos: int, pad: int) -> LlamaConfig:
    """The transformers config of the demo model."""
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        head_dim=shape.hidden_size // shape.num_attention_heads,
        max_position_embeddings=shape.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": shape.rope_theta},
        rms_norm_eps=1e-5,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        initializer_range=0.02,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        use_cache=True,
    )


def make_deterministic(seed: int, threads: int) -> None:
    """Seed every generator and pin torch to deterministic kernels and a fixed thread count."""
    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def _batches(rows: list[list[int]], tokens_per_batch: int, rng: random.Random) -> list[list[int]]:
    """Row indices grouped by length so that rows x longest row stays within the token budget."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = len(rows[index])  # sorted ascending: the newest row is the longest
        if current and (len(current) + 1) * longest > tokens_per_batch:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _tensors(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(row) for row in rows)
    ids = torch.full((len(rows), longest), pad, dtype=torch.long)
    labels = torch.full((len(rows), longest), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, : len(row)] = torch.tensor(row)
    return ids, labels


def _learning_rate(plan: TrainPlan, step: int) -> float:
    if step < plan.warmup_steps:
        return plan.learning_rate * (step + 1) / plan.warmup_steps
    progress = (step - plan.warmup_steps) / max(1, plan.steps - plan.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return plan.min_learning_rate + (plan.learning_rate - plan.min_learning_rate) * cosine


@dataclass
class TrainReport:
    """What a training run did."""

    steps: int
    epochs: float
    tokens_seen: int
    seconds: float
    final_train_loss: float
    validation_loss: float
    parameters: int


def train(
    rows: list[list[int]],
    validation: list[list[int]],
    config: LlamaConfig,
    plan: TrainPlan,
    pad: int,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[LlamaForCausalLM, TrainReport]:
    """Train a fresh model on token rows (BOS + document + EOS each) for ``plan.steps`` steps."""
    make_deterministic(plan.seed, plan.threads)
    model = LlamaForCausalLM(config)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": plan.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=plan.learning_rate,
        betas=(0.9, 0.95),
        eps=1e-8,
        foreach=False,
    )
    rng = random.Random(plan.seed)
    queue: list[list[int]] = []
    epochs = 0.0
    batches_per_epoch = 0
    tokens_seen = 0
    ema = float("nan")
    started = time.perf_counter()
    for step in range(plan.steps):
        if not queue:
            queue = _batches(rows, plan.tokens_per_batch, rng)
            batches_per_epoch = len(queue)
        indices = queue.pop()
        epochs += 1 / batches_per_epoch
        ids, labels = _tensors([rows[i] for i in indices], pad)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(plan, step)
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), plan.grad_clip)
        optimizer.step()
        tokens_seen += int((labels != -100).sum())
        value = float(loss.detach())
        ema = value if math.isnan(ema) else 0.98 * ema + 0.02 * value
        if progress is not None:
            progress(step, ema)
    seconds = time.perf_counter() - started
    model.train(False)
    report = TrainReport(
        steps=plan.steps,
        epochs=round(epochs, 3),
        tokens_seen=tokens_seen,
        seconds=round(seconds, 1),
        final_train_loss=round(ema, 4),
        validation_loss=round(evaluate_loss(model, validation, pad), 4),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return model, report


@torch.no_grad()
def evaluate_loss(
    model: LlamaForCausalLM, rows: list[list[int]], pad: int, tokens_per_batch: int = 8192
) -> float:
    """Mean next-token loss over ``rows`` (nan when there are none)."""
    if not rows:
        return float("nan")
    total = 0.0
    count = 0
    for indices in _batches(rows, tokens_per_batch, random.Random(0)):
        ids, labels = _tensors([rows[i] for i in indices], pad)
        n = int((labels[:, 1:] != -100).sum())
        total += float(model(input_ids=ids, labels=labels).loss) * n
        count += n
    return total / max(1, count)


def save_checkpoint(model: LlamaForCausalLM, out_dir: Path, bos: int, eos: int, pad: int) -> None:
    """Write ``config.json``, ``model.safetensors`` (f32) and ``generation_config.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        do_sample=True,
        temperature=1.2,
        top_p=0.85,
        top_k=50,
        repetition_penalty=1.05,
    )
    model.save_pretrained(out_dir, safe_serialization=True)


def describe(shape: ModelShape, plan: TrainPlan) -> dict[str, object]:
    """Shape and plan as plain data for the build record."""
    return {"shape": asdict(shape), "plan": asdict(plan)}
