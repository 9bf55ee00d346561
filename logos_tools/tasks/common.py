"""What every task shares: the run context, sampling options, reports, and drawing samples within a
time and sample budget.

Every task result says which model produced it (demo or real), how it sampled (seed included, so any
result can be reproduced), whether a budget cut it short, and every invalid sample with its reason.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import (
    Backend,
    CancelToken,
    GenerationRequest,
    GenerationResult,
    Progress,
    Sample,
    SamplingParams,
)

ProgressReporter = Callable[[float, float | None, str], None]
DEMO_NOTE = (
    "Produced by the built-in DEMO model (a tiny model trained on a few thousand packaged examples): "
    "it shows the tool chain works; its chemistry and biology are not meaningful. Set LOGOS_MODEL to a "
    "converted LOGOS GGUF for real results."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingOptions(_Strict):
    """Sampling overrides; unset fields take the LOGOS reference defaults of the grammar profile."""

    temperature: Annotated[
        float | None, Field(ge=0, le=5, description="Softmax temperature (0 = greedy).")
    ] = None
    top_p: Annotated[float | None, Field(gt=0, le=1, description="Nucleus sampling mass.")] = None
    top_k: Annotated[int | None, Field(ge=0, le=1000, description="Top-k cut (0 disables).")] = None
    repetition_penalty: Annotated[float | None, Field(gt=0, le=5, description="Repetition penalty.")] = None
    seed: Annotated[
        int | None, Field(ge=0, le=2**31 - 1, description="Random seed; set it to repeat a run.")
    ] = None

    def resolve(self, profile: Profile) -> SamplingParams:
        """Concrete parameters: the profile defaults overridden by the set fields; a seed is always set."""
        defaults = profile.sampling
        return SamplingParams(
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            top_k=defaults.top_k if self.top_k is None else self.top_k,
            repetition_penalty=(
                defaults.repetition_penalty if self.repetition_penalty is None else self.repetition_penalty
            ),
            seed=secrets.randbelow(2**31 - 1) if self.seed is None else self.seed,
        )


class ModelReport(BaseModel):
    """The model behind a result."""

    name: str
    backend: str
    sha256: str | None
    is_demo: bool
    note: str | None = None


class SamplingReport(BaseModel):
    """The sampling settings a result was produced with."""

    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    seed: int | None
    max_new_tokens: int
    constrained: bool = False


class MoleculeRef(BaseModel):
    """One molecule of an answer (results keep molecules as objects with a ``smiles`` key, which the
    exports look for)."""

    smiles: str = Field(description="Canonical SMILES.")


class InvalidSample(BaseModel):
    """A sample that could not be used, kept with its reason (never dropped silently)."""

    index: int
    text: str
    reason: str


class RunReport(BaseModel):
    """How a task run went: counts, budget, time."""

    samples_requested: int
    samples_drawn: int
    valid: int
    invalid: int
    partial: bool = False
    partial_reason: str | None = None
    budget_hit: Literal["time", "samples"] | None = Field(
        default=None, description="Which budget cut the run short: the time budget or the sample budget."
    )
    elapsed_s: float
    generated_tokens: int


class TaskResult(BaseModel):
    """Fields every task result carries."""

    model: ModelReport
    sampling: SamplingReport
    run: RunReport
    invalid_samples: list[InvalidSample] = []
    result_id: str | None = None
    job_id: str | None = None  # set when a time budget cut the call: poll get_job for the full result


@dataclass
class TaskContext:
    """Everything a task needs besides its inputs."""

    backend: Backend
    profile: Profile
    time_budget_s: float | None = 45.0
    progress: ProgressReporter | None = None
    cancel: CancelToken | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float | None:
        """Monotonic instant at which the time budget ends."""
        return None if self.time_budget_s is None else self.started + self.time_budget_s

    def time_left(self) -> float | None:
        """Seconds left of the budget (None: no budget)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def model_report(self) -> ModelReport:
        """The backend's model, flagged when it is the demo model."""
        info = self.backend.info
        return ModelReport(
            name=info.model_name,
            backend=info.backend,
            sha256=info.sha256,
            is_demo=info.is_demo,
            note=DEMO_NOTE if info.is_demo else None,
        )

    def report(self, message: str, done: float, total: float | None) -> None:
        """Forward progress to the caller, if it listens."""
        if self.progress is not None:
            self.progress(done, total, message)


def sampling_report(
    params: SamplingParams, max_new_tokens: int, *, constrained: bool = False
) -> SamplingReport:
    """The report form of concrete sampling parameters."""
    return SamplingReport(
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        repetition_penalty=params.repetition_penalty,
        seed=params.seed,
        max_new_tokens=max_new_tokens,
        constrained=constrained,
    )


@dataclass
class Drawn:
    """Samples drawn so far for one prompt, across rounds."""

    samples: list[Sample] = field(default_factory=list)
    prompt_logprobs: list[float] | None = None
    generated_tokens: int = 0
    rounds: int = 0
    stopped_by: str | None = None  # "time budget" / "sample budget" when a budget ended the drawing


def draw(
    ctx: TaskContext,
    *,
    prompt: str,
    n: int,
    stop: Sequence[str],
    max_new_tokens: int,
    params: SamplingParams,
    label: str,
    grammar: str | None = None,
    drawn: Drawn | None = None,
) -> Drawn:
    """Draw ``n`` more samples of ``prompt`` into ``drawn`` within the context's time budget.

    Later rounds use seed + round so a repeated run repeats every round. Samples cut by the deadline
    come back with finish reason ``"deadline"``; the caller counts them invalid (truncated).
    """
    drawn = drawn or Drawn()
    if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        drawn.stopped_by = "time budget"
        return drawn
    seed = None if params.seed is None else params.seed + drawn.rounds
    round_params = SamplingParams(
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        repetition_penalty=params.repetition_penalty,
        seed=seed,
    )
    offset = len(drawn.samples)

    def on_step(step: Progress) -> None:
        # The total grows when a task over-samples in rounds; within a round it is exact.
        done, total = offset + step.finished, offset + step.total
        ctx.report(f"{label}: {done}/{total} samples", done, total)

    request = GenerationRequest(
        prompt=prompt,
        n=n,
        stop=tuple(stop),
        max_new_tokens=max_new_tokens,
        sampling=round_params,
        grammar=grammar,
        logprobs=True,
        deadline=ctx.deadline,
    )
    result: GenerationResult = ctx.backend.generate(request, progress=on_step, cancel=ctx.cancel)
    drawn.samples.extend(result.samples)
    drawn.prompt_logprobs = (
        result.prompt_logprobs if result.prompt_logprobs is not None else drawn.prompt_logprobs
    )
    drawn.generated_tokens += result.timings.generated_tokens
    drawn.rounds += 1
    if any(sample.finish_reason == "deadline" for sample in result.samples):
        drawn.stopped_by = "time budget"
    return drawn


def whole_text_perplexity(prompt_logprobs: Sequence[float] | None, sample: Sample) -> float | None:
    """Perplexity of prompt + completion, as the LOGOS reference ranks samples (lower is better)."""
    if sample.logprobs is None or not sample.logprobs:
        return None
    values = list(prompt_logprobs or []) + list(sample.logprobs)
    return math.exp(-sum(values) / len(values))


def mean_logprob(sample: Sample) -> float | None:
    """Mean per-token log-probability of a completion."""
    if not sample.logprobs:
        return None
    return sum(sample.logprobs) / len(sample.logprobs)


def clip(text: str, limit: int = 300) -> str:
    """Shorten long sample text for reports."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_clause(message: str) -> str:
    """``message`` without its final period, to sit inside a sentence that adds its own.

    Messages quoted in other messages (``f"...: {to_clause(str(exc))}. Pass ..."``) often end with a
    period already; an ellipsis is kept, since it marks clipped text rather than the end of a sentence.
    """
    text = message.rstrip()
    if text.endswith(".") and not text.endswith(".."):
        return text[:-1]
    return text


def run_report(
    ctx: TaskContext, drawn: Drawn, *, requested: int, valid: int, partial_reason: str | None = None
) -> RunReport:
    """Counts and timing of a finished run."""
    reason = partial_reason or drawn.stopped_by
    budget: Literal["time", "samples"] | None = None
    if reason is not None:
        budget = "time" if drawn.stopped_by == "time budget" else "samples"
    return RunReport(
        samples_requested=requested,
        samples_drawn=len(drawn.samples),
        valid=valid,
        invalid=len(drawn.samples) - valid,
        partial=reason is not None,
        partial_reason=reason,
        budget_hit=budget,
        elapsed_s=round(time.monotonic() - ctx.started, 3),
        generated_tokens=drawn.generated_tokens,
    )
