"""The one definition of every LOGOS tool: typed parameters, a docstring whose first line is what an
agent reads, and a pydantic result. The CLI, the MCP server and the LangChain tools adapt these methods.

Every call runs a task on the shared backend (loaded lazily, once), stores the result in the results
store and returns it with its ``result_id`` so later calls, resources and exports can refer to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import Field

from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.runtime.base import Backend, CancelToken
from logos_tools.settings import Settings
from logos_tools.store.results import ResultStore
from logos_tools.tasks.common import ProgressReporter, SamplingOptions, TaskContext, TaskResult
from logos_tools.tasks.retrosynthesis import RetrosynthesisResult, retrosynthesis
from logos_tools.toolkit.calls import current_scope
from logos_tools.toolkit.jobs import JobManager, JobStatus
from logos_tools.toolkit.names import TOOL_NAMES
from logos_tools.toolkit.params import Seed, Temperature, TimeBudget
from logos_tools.toolkit.validation import tool

ResultT = TypeVar("ResultT", bound=TaskResult)

JOB_TIME_BUDGET_S = 3600.0  # a background job may run this long before it returns what it has


class Toolkit:
    """LOGOS tools over one model. Thread-safe: calls queue on the model."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backend: Backend | None = None,
        store: ResultStore | None = None,
        profile: Profile | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._backend = backend
        self._backend_lock = threading.Lock()
        self.profile = profile or load_profile(self.settings.profile)
        self.store = store or ResultStore(self.settings.store_path)
        self.jobs = JobManager()

    # -- plumbing --------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The inference backend, opened on first use (the model loads on its first call)."""
        with self._backend_lock:
            if self._backend is None:
                from logos_tools.runtime.factory import open_backend

                self._backend = open_backend(self.settings)
            return self._backend

    def tools(self) -> list[Callable[..., Any]]:
        """The bound tool methods, in a stable order."""
        return [getattr(self, name) for name in TOOL_NAMES if hasattr(self, name)]

    def _sampling(self, seed: int | None, temperature: float | None) -> SamplingOptions:
        return SamplingOptions(seed=seed, temperature=temperature)

    def _run(
        self,
        tool_name: str,
        inputs: dict[str, Any],
        time_budget_s: float | None,
        task: Callable[[TaskContext], ResultT],
    ) -> ResultT:
        scope = current_scope()
        budget = time_budget_s if time_budget_s is not None else self.settings.time_budget_s
        inputs = {k: v for k, v in inputs.items() if k != "self"}
        result = self._execute(tool_name, inputs, task, budget, scope.progress, scope.cancel, parent_id=None)
        if result.run.partial and result.run.partial_reason == "time budget" and result.result_id:
            result.job_id = self._continue_in_background(tool_name, inputs, task, result.result_id)
            self.store.update(result.result_id, outputs=self._outputs(result))
        return result

    def _execute(
        self,
        tool_name: str,
        inputs: dict[str, Any],
        task: Callable[[TaskContext], ResultT],
        budget: float | None,
        progress: ProgressReporter | None,
        cancel: CancelToken | None,
        *,
        parent_id: str | None,
    ) -> ResultT:
        ctx = TaskContext(
            backend=self.backend, profile=self.profile, time_budget_s=budget, progress=progress, cancel=cancel
        )
        result = task(ctx)
        stored = self.store.record(
            tool_name,
            inputs=inputs,
            model=result.model.model_dump(mode="json"),
            parameters=result.sampling.model_dump(mode="json"),
            outputs=self._outputs(result),
            timings=result.run.model_dump(mode="json"),
            status="partial" if result.run.partial else "complete",
            parent_id=parent_id,
        )
        result.result_id = stored.id
        return result

    @staticmethod
    def _outputs(result: TaskResult) -> dict[str, Any]:
        return result.model_dump(mode="json", exclude={"model", "sampling", "result_id"})

    def _continue_in_background(
        self, tool_name: str, inputs: dict[str, Any], task: Callable[[TaskContext], ResultT], partial_id: str
    ) -> str:
        """Start a job that repeats the call without the short budget; the partial result is its parent."""

        def work(progress: ProgressReporter, cancel: CancelToken) -> tuple[str | None, dict[str, Any]]:
            full = self._execute(
                tool_name, inputs, task, JOB_TIME_BUDGET_S, progress, cancel, parent_id=partial_id
            )
            return full.result_id, full.model_dump(mode="json")

        return self.jobs.start(tool_name, work)

    # -- tools -----------------------------------------------------------------------------
    @tool
    def retrosynthesis(
        self,
        product: Annotated[str, Field(description="Product SMILES to make, e.g. 'CC(=O)Oc1ccccc1C(=O)O'.")],
        num_samples: Annotated[
            int | None, Field(ge=1, le=256, description="Samples to draw (default 32, the LOGOS reference).")
        ] = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> RetrosynthesisResult:
        """Propose reactant sets that make a product (one-step retrosynthesis), most often sampled first.

        Each candidate lists canonical reactant SMILES, how many samples proposed it, its mean
        log-probability and whether the reactants can supply the product's heavy atoms.
        """
        return self._run(
            "retrosynthesis",
            locals(),
            time_budget_s,
            lambda ctx: retrosynthesis(
                ctx, product, num_samples=num_samples, sampling=self._sampling(seed, temperature)
            ),
        )

    @tool
    def get_job(
        self,
        job_id: Annotated[
            str, Field(description="The job_id a partial result returned, e.g. 'j-0123456789ab'.")
        ],
        cancel: Annotated[bool, Field(description="Stop the job instead of checking on it.")] = False,
    ) -> JobStatus:
        """Check on (or cancel) the background job that finishes a tool call which ran out of time.

        When the status is ``complete`` the job's full result is included, with its result_id.
        """
        return self.jobs.cancel(job_id) if cancel else self.jobs.status(job_id)
