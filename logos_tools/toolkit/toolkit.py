"""The one definition of every LOGOS tool: typed parameters, a docstring whose first line is what an
agent reads, and a pydantic result. The CLI, the MCP server and the LangChain tools adapt these methods.

Every call runs a task on the shared backend (loaded lazily, once), stores the result in the results
store and returns it with its ``result_id`` so later calls, resources and exports can refer to it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field

from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.models.registry import ModelListing, ModelRegistry
from logos_tools.runtime.base import Backend, CancelToken
from logos_tools.settings import Settings
from logos_tools.store.results import ResultStore
from logos_tools.tasks.binding_site import BindingSiteResult, find_binding_sites
from logos_tools.tasks.common import ProgressReporter, SamplingOptions, TaskContext, TaskResult
from logos_tools.tasks.completion import GrammarCompletionResult, complete_grammar
from logos_tools.tasks.forward_reaction import ReactionPredictionResult, predict_reaction
from logos_tools.tasks.ligand_design import LigandDesignResult, design_ligands
from logos_tools.tasks.mof_generation import MOFGenerationResult, generate_mofs
from logos_tools.tasks.molecule_generation import MoleculeGenerationResult, generate_molecules
from logos_tools.tasks.properties import MoleculeFilter
from logos_tools.tasks.protein_variants import (
    SequenceCompletionResult,
    SequenceKind,
    VariantScoringResult,
    complete_sequence,
    score_protein_variants,
)
from logos_tools.tasks.retrosynthesis import RetrosynthesisResult, retrosynthesis
from logos_tools.tasks.scoring import ScoreItem, ScoringResult, score_objects
from logos_tools.toolkit.calls import current_scope
from logos_tools.toolkit.deferred import DeferredBackend
from logos_tools.toolkit.jobs import JobManager, JobStatus
from logos_tools.toolkit.names import TOOL_NAMES
from logos_tools.toolkit.params import (
    Chain,
    Lipinski,
    MaxMW,
    MaxSA,
    MaxSamples,
    MinQED,
    NoPains,
    NumSamples,
    ResidueNumber,
    Seed,
    StructurePath,
    Temperature,
    TimeBudget,
)
from logos_tools.toolkit.paths import resolve_input_file
from logos_tools.toolkit.validation import tool

ResultT = TypeVar("ResultT", bound=TaskResult)


class ModelList(BaseModel):
    """The models this installation knows, and the one the tools use."""

    active: str = Field(description="The model the tools run (LOGOS_MODEL), or the server URL.")
    backend: str = Field(description="llamacpp (in-process) or openai (HTTP server).")
    models: list[ModelListing]


JOB_TIME_BUDGET_S = 600.0  # a background job holds the model at most this long, then stores what it has


JOB_STOP_WAIT_S = 10.0  # how long close() waits for cancelled background jobs to stop


class Toolkit:
    """LOGOS tools over one model. Thread-safe: calls queue on the model.

    Use it as a context manager (or call ``close()``) so background jobs of calls cut by their time
    budget stop with it.
    """

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

    def close(self, timeout_s: float = JOB_STOP_WAIT_S) -> None:
        """Cancel this toolkit's background jobs and wait up to ``timeout_s`` for them to stop.

        The loaded model is shared by every toolkit of the process on the same file, so it stays
        loaded; ``logos_tools.runtime.factory.close_all()`` releases it.
        """
        self.jobs.cancel_all(timeout_s)

    def __enter__(self) -> Toolkit:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

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

    @staticmethod
    def _sampling(seed: int | None, temperature: float | None) -> SamplingOptions:
        """Sampling options with a concrete seed, so a background job repeats the call exactly."""
        chosen = seed if seed is not None else secrets.randbelow(2**31 - 1)
        return SamplingOptions(seed=chosen, temperature=temperature)

    def _structure(self, structure_path: str | None) -> Path | None:
        if structure_path is None:
            return None
        return resolve_input_file(structure_path, self.settings.effective_allowed_roots())

    @staticmethod
    def _filters(
        min_qed: float | None, max_mw: float | None, max_sa: float | None, lipinski: bool, no_pains: bool
    ) -> MoleculeFilter | None:
        chosen = MoleculeFilter(
            min_qed=min_qed, max_mw=max_mw, max_sa=max_sa, lipinski=lipinski, no_pains=no_pains
        )
        return None if chosen.is_empty() else chosen

    def _run(
        self,
        tool_name: str,
        inputs: dict[str, Any],
        time_budget_s: float | None,
        task: Callable[[TaskContext], ResultT],
    ) -> ResultT:
        scope = current_scope()
        budget = time_budget_s if time_budget_s is not None else self.settings.time_budget_s
        inputs = {k: v for k, v in inputs.items() if k != "self" and not k.startswith("_")}
        result = self._execute(tool_name, inputs, task, budget, scope.progress, scope.cancel, parent_id=None)
        if result.run.budget_hit == "time" and result.result_id:
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
            backend=DeferredBackend(lambda: self.backend),
            profile=self.profile,
            time_budget_s=budget,
            progress=progress,
            cancel=cancel,
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

        return self.jobs.start(tool_name, work, partial_result_id=partial_id)

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
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "retrosynthesis",
            locals(),
            time_budget_s,
            lambda ctx: retrosynthesis(ctx, product, num_samples=num_samples, sampling=_sampling),
        )

    @tool
    def predict_reaction(
        self,
        reactants: Annotated[
            list[str],
            Field(min_length=1, max_length=10, description="Reactant SMILES, e.g. ['CC(=O)O', 'OCC']."),
        ],
        num_samples: NumSamples = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> ReactionPredictionResult:
        """Predict the products of a reaction from its reactants (LOGOS <React>), most often sampled first."""
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "predict_reaction",
            locals(),
            time_budget_s,
            lambda ctx: predict_reaction(ctx, reactants, num_samples=num_samples, sampling=_sampling),
        )

    @tool
    def find_binding_sites(
        self,
        sequence: Annotated[str | None, Field(description="Protein sequence (one-letter codes).")] = None,
        structure_path: StructurePath = None,
        chain: Chain = None,
        num_samples: NumSamples = None,
        min_consensus: Annotated[
            float, Field(gt=0, le=1, description="Fraction of samples that must mark a residue for a site.")
        ] = 0.5,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> BindingSiteResult:
        """Find ligand-binding pocket residues of a protein (LOGOS <Search>) from a sequence or a structure.

        Give either ``sequence`` or ``structure_path`` (+ ``chain``). Returns per-residue consensus over
        the samples, grouped sites, and structure residue numbers when a structure is given.
        """
        structure = self._structure(structure_path)
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "find_binding_sites",
            locals(),
            time_budget_s,
            lambda ctx: find_binding_sites(
                ctx,
                sequence=sequence,
                structure=structure,
                chain=chain,
                num_samples=num_samples,
                min_consensus=min_consensus,
                sampling=_sampling,
            ),
        )

    @tool
    def design_ligands(
        self,
        structure_path: StructurePath = None,
        ligand: Annotated[
            str | None,
            Field(
                max_length=3, description="Residue name of the bound ligand defining the pocket, e.g. 'XK2'."
            ),
        ] = None,
        chain: Chain = None,
        ligand_chain: Annotated[
            str | None, Field(max_length=4, description="Chain of that ligand if it occurs twice.")
        ] = None,
        residues: Annotated[
            list[ResidueNumber] | None,
            Field(
                description="Pocket residue numbers instead of a ligand, e.g. [25, 27, 50]; "
                "with an insertion code as text, e.g. '100A'."
            ),
        ] = None,
        pocket_sequence: Annotated[
            str | None,
            Field(
                description="No structure: a sequence (with pocket_positions) or a pocket-marked <ProteinS> text."
            ),
        ] = None,
        pocket_positions: Annotated[
            list[int] | None, Field(description="1-based pocket positions in pocket_sequence.")
        ] = None,
        reference_smiles: Annotated[
            str | None, Field(description="Known ligand SMILES, for novelty.")
        ] = None,
        num_molecules: Annotated[
            int, Field(ge=1, le=200, description="Molecules wanted (after filters).")
        ] = 10,
        min_qed: MinQED = None,
        max_mw: MaxMW = None,
        max_sa: MaxSA = None,
        lipinski: Lipinski = False,
        no_pains: NoPains = False,
        max_samples: MaxSamples = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> LigandDesignResult:
        """Design small-molecule ligands for a protein pocket, with drug-likeness properties and filters.

        The pocket comes from a structure file and the ligand bound in it (or pocket residue numbers),
        or from a sequence with pocket positions. Molecules are checked with RDKit, scored (QED, SA, MW,
        logP, TPSA, Lipinski, PAINS), filtered, and ranked by model perplexity.
        """
        structure = self._structure(structure_path)
        filters = self._filters(min_qed, max_mw, max_sa, lipinski, no_pains)
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "design_ligands",
            locals(),
            time_budget_s,
            lambda ctx: design_ligands(
                ctx,
                structure=structure,
                ligand=ligand,
                chain=chain,
                ligand_chain=ligand_chain,
                residues=residues,
                pocket_sequence=pocket_sequence,
                pocket_positions=pocket_positions,
                reference_smiles=reference_smiles,
                num_molecules=num_molecules,
                filters=filters,
                max_samples=max_samples,
                sampling=_sampling,
            ),
        )

    @tool
    def generate_molecules(
        self,
        num_molecules: Annotated[
            int, Field(ge=1, le=500, description="Molecules wanted (after filters).")
        ] = 10,
        prefix: Annotated[str | None, Field(description="SMILES prefix every molecule starts with.")] = None,
        reference_smiles: Annotated[
            list[str] | None,
            Field(
                max_length=10000, description="Known molecules (SMILES); novelty is measured against them."
            ),
        ] = None,
        min_qed: MinQED = None,
        max_mw: MaxMW = None,
        max_sa: MaxSA = None,
        lipinski: Lipinski = False,
        no_pains: NoPains = False,
        max_samples: MaxSamples = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> MoleculeGenerationResult:
        """Generate new small molecules (optionally from a SMILES prefix), with properties and filters."""
        filters = self._filters(min_qed, max_mw, max_sa, lipinski, no_pains)
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "generate_molecules",
            locals(),
            time_budget_s,
            lambda ctx: generate_molecules(
                ctx,
                num_molecules=num_molecules,
                prefix=prefix,
                filters=filters,
                max_samples=max_samples,
                reference=reference_smiles,
                sampling=_sampling,
            ),
        )

    @tool
    def generate_mofs(
        self,
        num_materials: Annotated[int, Field(ge=1, le=200, description="Distinct materials wanted.")] = 10,
        metal_node: Annotated[
            str | None, Field(description="SMILES of a metal node to build around.")
        ] = None,
        max_samples: MaxSamples = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> MOFGenerationResult:
        """Generate metal-organic frameworks as metal node + organic linkers, with composition and checks."""
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "generate_mofs",
            locals(),
            time_budget_s,
            lambda ctx: generate_mofs(
                ctx,
                num_materials=num_materials,
                metal_node=metal_node,
                max_samples=max_samples,
                sampling=_sampling,
            ),
        )

    @tool
    def score_protein_variants(
        self,
        wild_type: Annotated[str, Field(description="Wild-type sequence (one-letter codes).")],
        mutations: Annotated[
            list[str],
            Field(min_length=1, max_length=500, description="Mutations like 'A23G' or 'A23G:L45P'."),
        ],
        kind: Annotated[SequenceKind, Field(description="protein or antibody block.")] = "protein",
        offset: Annotated[int, Field(description="Number of the first residue in mutation names.")] = 1,
        time_budget_s: TimeBudget = None,
    ) -> VariantScoringResult:
        """Score protein mutations zero-shot by log-likelihood ratio against the wild type (higher = fitter)."""
        return self._run(
            "score_protein_variants",
            locals(),
            time_budget_s,
            lambda ctx: score_protein_variants(ctx, wild_type, mutations, kind=kind, offset=offset),
        )

    @tool
    def complete_sequence(
        self,
        prefix: Annotated[str, Field(description="Start of a protein or antibody sequence (may be empty).")],
        kind: Annotated[SequenceKind, Field(description="protein or antibody.")] = "protein",
        num_samples: NumSamples = None,
        max_new_tokens: Annotated[
            int | None, Field(ge=1, le=4096, description="Longest continuation.")
        ] = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> SequenceCompletionResult:
        """Complete a protein or antibody sequence from its first residues, ranked by perplexity."""
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "complete_sequence",
            locals(),
            time_budget_s,
            lambda ctx: complete_sequence(
                ctx,
                prefix,
                kind=kind,
                num_samples=num_samples,
                max_new_tokens=max_new_tokens,
                sampling=_sampling,
            ),
        )

    @tool
    def score_objects(
        self,
        objects: Annotated[
            list[ScoreItem],
            Field(min_length=1, max_length=500, description="Objects to score, each {kind, value}."),
        ],
        time_budget_s: TimeBudget = None,
    ) -> ScoringResult:
        """Score molecules, proteins, antibodies, materials, reactions or grammar texts by model perplexity."""
        return self._run("score_objects", locals(), time_budget_s, lambda ctx: score_objects(ctx, objects))

    @tool
    def complete_grammar(
        self,
        prompt: Annotated[str, Field(description="A LOGOS grammar prompt, e.g. '<MoleculeS>CC(=O)N'.")],
        num_samples: Annotated[int, Field(ge=1, le=256, description="Samples to draw.")] = 1,
        max_new_tokens: Annotated[int, Field(ge=1, le=4096, description="Longest completion.")] = 256,
        stop: Annotated[
            list[str] | None, Field(description="End tags to stop at, e.g. ['<MoleculeE>']; default: EOS.")
        ] = None,
        grammar: Annotated[
            str | None,
            Field(
                description="GBNF text, or a shipped grammar: molecule_block, molecule_set, protein_sequence, material_block."
            ),
        ] = None,
        seed: Seed = None,
        temperature: Temperature = None,
        time_budget_s: TimeBudget = None,
    ) -> GrammarCompletionResult:
        """Escape hatch: continue a raw LOGOS grammar prompt and get the answer decoded into typed blocks."""
        _sampling = self._sampling(seed, temperature)  # one seed for the call and its job
        return self._run(
            "complete_grammar",
            locals(),
            time_budget_s,
            lambda ctx: complete_grammar(
                ctx,
                prompt,
                num_samples=num_samples,
                max_new_tokens=max_new_tokens,
                stop=stop,
                grammar=grammar,
                sampling=_sampling,
            ),
        )

    @tool
    def list_models(self) -> ModelList:
        """List the LOGOS models available here (demo, registered GGUFs, known checkpoints) and the active one."""
        if self.settings.backend == "openai":
            return ModelList(active=self.settings.openai_base_url or "", backend="openai", models=[])
        listing = ModelRegistry.from_settings(self.settings).list_models()
        return ModelList(active=self.settings.model, backend=self.settings.backend, models=listing)

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
