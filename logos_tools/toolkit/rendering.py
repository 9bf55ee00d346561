"""A plain-text account of every tool result, complete on its own.

Some hosts show the model only a tool's text block, others only its structured JSON. The MCP server
and the LangChain tools put ``render_text(result)`` next to the structured result, so the text must
carry what an agent needs to act: the top candidates with their numbers, counts and validity, whether
the run was cut short (and the job that finishes it), the demo-model warning and the result id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from logos_tools.tasks.binding_site import BindingSite, BindingSiteResult
from logos_tools.tasks.common import InvalidSample, TaskResult, to_clause
from logos_tools.tasks.completion import GrammarCompletionResult, GrammarSample
from logos_tools.tasks.forward_reaction import ProductSet, ReactionPredictionResult
from logos_tools.tasks.ligand_design import LigandDesignResult
from logos_tools.tasks.mof_generation import GeneratedMaterial, MOFGenerationResult
from logos_tools.tasks.molecule_generation import MoleculeGenerationResult
from logos_tools.tasks.molecule_sampling import GeneratedMolecule, MoleculeBatchResult
from logos_tools.tasks.protein_variants import (
    SequenceCompletion,
    SequenceCompletionResult,
    VariantScore,
    VariantScoringResult,
)
from logos_tools.tasks.retrosynthesis import ReactantSet, RetrosynthesisResult
from logos_tools.tasks.scoring import ObjectScore, ScoringResult
from logos_tools.toolkit.jobs import JobStatus

if TYPE_CHECKING:
    from logos_tools.toolkit.toolkit import ModelList

MAX_ITEMS = 10  # candidates listed in full; the rest are counted and left to the structured result
MAX_TEXT = 300  # characters of one free-text sample shown

R = TypeVar("R", bound=TaskResult)
T = TypeVar("T")
_Body = Callable[[Any], list[str]]
_BODIES: dict[type[TaskResult], tuple[str, _Body]] = {}


def _body(result_type: type[R], title: str) -> Callable[[Callable[[R], list[str]]], Callable[[R], list[str]]]:
    def register(render: Callable[[R], list[str]]) -> Callable[[R], list[str]]:
        _BODIES[result_type] = (title, render)
        return render

    return register


def render_text(result: object) -> str:
    """A readable, self-contained summary of a tool result (task result, job status, model list).

    Raises nothing for unknown types: they are rendered as JSON, which is complete if not pretty.
    """
    if isinstance(result, TaskResult):
        return _render_task(result)
    if isinstance(result, JobStatus):
        return _render_job(result)
    if isinstance(result, (list, tuple)):
        if not result:
            return "No entries."
        return "\n".join(_render_item(item) for item in result)
    from logos_tools.toolkit.toolkit import ModelList  # late: the toolkit module is the heavier import

    if isinstance(result, ModelList):
        return _render_models(result)
    if isinstance(result, BaseModel):
        return result.model_dump_json(indent=2)
    return json.dumps(result, indent=2, default=str)


# -- shared pieces ---------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _more(total: int, shown: int, what: str) -> list[str]:
    if total <= shown:
        return []
    return [f"  ... and {total - shown} more {what} in the structured result (stored under the result id)."]


def _listed(items: Sequence[T], line: Callable[[T], str], what: str) -> list[str]:
    lines = [line(item) for item in items[:MAX_ITEMS]]
    return lines + _more(len(items), len(lines), what)


def _render_task(result: TaskResult) -> str:
    title: str = type(result).__name__.removesuffix("Result")
    body: _Body = _generic_body
    for klass in type(result).__mro__:
        if klass in _BODIES:
            title, body = _BODIES[klass]
            break
    lines = [f"{title}:"]
    lines += body(result)
    lines += _footer(result)
    return "\n".join(lines)


def _footer(result: TaskResult) -> list[str]:
    run, sampling, model = result.run, result.sampling, result.model
    sampled = sampling.max_new_tokens > 0
    lines = [
        f"{'Samples' if sampled else 'Inputs'}: {run.samples_drawn} done of {run.samples_requested} requested, "
        f"{run.valid} valid, {run.invalid} invalid; {run.elapsed_s:.1f} s, {run.generated_tokens} generated tokens.",
        (
            f"Sampling: temperature {sampling.temperature:g}, top_p {sampling.top_p:g}, top_k {sampling.top_k}, "
            f"repetition penalty {sampling.repetition_penalty:g}, seed {sampling.seed}"
            + (", grammar-constrained" if sampling.constrained else "")
            + " (pass the same seed to repeat this run)."
            if sampled
            else "No sampling: scores are log-probabilities under the unmodified model (same inputs, same scores)."
        ),
    ]
    lines += _invalid_summary(result.invalid_samples)
    if run.partial:
        line = f"PARTIAL result ({run.partial_reason or 'a budget ran out'})."
        if result.job_id:
            line += (
                f" The full run continues in the background as job {result.job_id}: call get_job with "
                f"job_id '{result.job_id}' to check on it and fetch the complete result."
            )
        lines.append(line)
    sha = f", sha256 {model.sha256[:12]}" if model.sha256 else ""
    lines.append(f"Model: {model.name} ({model.backend}{sha}).")
    if model.is_demo:
        lines.append(f"DEMO MODEL: {model.note}" if model.note else "DEMO MODEL: results are not meaningful.")
    if result.result_id:
        lines.append(f"Result id: {result.result_id} (later calls and exports can refer to it).")
    return lines


def _invalid_summary(invalid: Sequence[InvalidSample]) -> list[str]:
    if not invalid:
        return []
    reasons = Counter(_clip(to_clause(sample.reason), 120) for sample in invalid)
    top = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(3))
    rest = len(reasons) - 3
    return [f"Invalid samples: {len(invalid)} ({top}{f'; {rest} other reasons' if rest > 0 else ''})."]


def _generic_body(result: TaskResult) -> list[str]:
    """Any task result without its own renderer: every field but the shared ones, as compact JSON."""
    shared = set(TaskResult.model_fields)
    data = result.model_dump(mode="json", exclude=shared)
    return [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in data.items()]


def _render_item(item: object) -> str:
    if isinstance(item, BaseModel):
        fields = item.model_dump(mode="json", exclude_none=True)
        name = fields.pop("name", None)
        details = ", ".join(
            f"{key}={_short(value)}" for key, value in fields.items() if value not in ("", [])
        )
        return f"- {name}: {details}" if name is not None else f"- {details}"
    return f"- {json.dumps(item, default=str)}"


def _render_models(listing: ModelList) -> str:
    lines = [f"Active model: {listing.active} (backend {listing.backend}). Known models:"]
    for model in listing.models:
        facts = [model.kind, model.status]
        facts += [value for value in (model.architecture, model.quantization) if value]
        if model.size:
            facts.append(f"{model.size / 1e6:.1f} MB")
        if model.hf_repo:
            facts.append(f"Hugging Face {model.hf_repo}")
        line = f"- {model.name}: {', '.join(facts)}"
        if model.path:
            line += f"; file {model.path}"
        if model.description:
            line += f". {_clip(model.description, 200)}"
        lines.append(line)
    if not listing.models:
        lines.append("- none listed (the model is served over HTTP).")
    return "\n".join(lines)


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return _clip(text, 160)


def _render_job(job: JobStatus) -> str:
    lines = [f"Job {job.job_id} ({job.tool}): {job.status}, {job.elapsed_s:.1f} s elapsed."]
    if job.status in ("running", "cancelling"):
        done = (
            f"{job.progress:g}" + (f"/{job.total:g}" if job.total else "")
            if job.progress is not None
            else None
        )
        if job.message or done:
            lines.append(f"Progress: {job.message or done}.")
    if job.status == "running":
        lines.append("Call get_job again later with the same job_id (or cancel=true to stop it).")
    if job.status == "cancelling":
        lines.append(
            "Cancelling was requested: the job stops at its next decode step. Call get_job again with the "
            "same job_id (no need to cancel again) to see it stopped."
        )
    if job.error:
        lines.append(f"Error: {job.error}")
    if job.status == "cancelled":
        lines.append("The job was cancelled before it stored a complete result.")
    if job.status != "complete" and job.partial_result_id:
        lines.append(f"The partial result it continues stays stored under result id {job.partial_result_id}.")
    if job.result_id:
        lines.append(f"Complete result id: {job.result_id}.")
    if job.result is not None:
        typed = _typed_job_result(job.tool, job.result)
        lines.append(render_text(typed) if typed is not None else json.dumps(job.result, ensure_ascii=False))
    return "\n".join(lines)


def _typed_job_result(tool: str, data: dict[str, Any]) -> TaskResult | None:
    """The job's result as the tool's own result type, so it renders like the tool's answer."""
    from typing import get_type_hints

    from logos_tools.toolkit.toolkit import Toolkit  # the toolkit module imports task modules; keep it late

    method = getattr(Toolkit, tool, None)
    if method is None:
        return None
    result_type = get_type_hints(method).get("return")
    if not (isinstance(result_type, type) and issubclass(result_type, TaskResult)):
        return None
    try:
        return result_type.model_validate(data)
    except ValidationError:
        return None


# -- molecules -------------------------------------------------------------------------------------
def _molecule_line(molecule: GeneratedMolecule) -> str:
    props = molecule.properties
    facts = [
        f"x{molecule.count}",
        f"ppl {_num(molecule.perplexity)}",
        f"QED {props.qed:.2f}",
        f"SA {props.sa_score:.1f}",
        f"MW {props.mw:.0f}",
        f"cLogP {round(props.logp, 1) + 0.0:.1f}",
    ]
    if molecule.novel is not None:
        facts.append("novel" if molecule.novel else "known")
    alerts = props.pains_alerts + props.brenk_alerts
    if alerts:
        facts.append("alerts: " + ", ".join(alerts[:3]) + ("..." if len(alerts) > 3 else ""))
    if molecule.filter_failures:
        facts.append("misses " + "; ".join(molecule.filter_failures))
    return f"  {molecule.rank}. {molecule.smiles}  ({', '.join(facts)})"


def _molecule_batch(result: MoleculeBatchResult) -> list[str]:
    novelty = f", novelty {_pct(result.novelty)}" if result.novelty is not None else ""
    extra = len(result.extra_molecules)
    left_out = f"; {extra} more passed, listed apart as extra_molecules" if extra else ""
    lines = [
        f"{len(result.molecules)} distinct molecules pass the filters ({result.num_molecules} asked "
        f"for{left_out}); validity {_pct(result.validity)}, uniqueness {_pct(result.uniqueness)}{novelty} "
        f"(novelty reference: {result.novelty_reference}).",
    ]
    report = result.filter_report
    if report.active:
        misses = ", ".join(f"{key} {count}" for key, count in report.failures_by_limit.items())
        limits = report.filters.model_dump(exclude_defaults=True)
        lines.append(
            f"Filters {json.dumps(limits)}: {report.passed} passed, {report.failed} failed"
            + (f" (misses by limit: {misses})" if misses else "")
            + "."
        )
    if result.molecules:
        lines.append(f"Ranking: {result.ranking}")
        lines += _listed(result.molecules, _molecule_line, "molecules")
    else:
        lines.append("No molecule passed every check.")
    if result.rejected_molecules:
        lines.append("Valid molecules rejected by the filters:")
        shown = result.rejected_molecules[:5]
        lines += [_molecule_line(molecule) for molecule in shown]
        lines += _more(len(result.rejected_molecules), len(shown), "rejected molecules")
    return lines


@_body(MoleculeGenerationResult, "Generated molecules")
def _molecule_generation(result: MoleculeGenerationResult) -> list[str]:
    lines = [f"Prefix: {result.prefix!r}."] if result.prefix else []
    return lines + _molecule_batch(result)


@_body(LigandDesignResult, "Ligands designed for a pocket")
def _ligand_design(result: LigandDesignResult) -> list[str]:
    pocket = result.pocket
    where = f"chain {pocket.chain}, " if pocket.chain else ""
    numbers = f" (residue numbers {', '.join(pocket.residue_numbers)})" if pocket.residue_numbers else ""
    ligand = f", defined by ligand {pocket.ligand}" if pocket.ligand else ""
    cutoff = f" within {pocket.cutoff_angstrom:g} Å" if pocket.cutoff_angstrom else ""
    lines = [
        f"Pocket from {pocket.source}{ligand}{cutoff}: {where}{len(pocket.positions)} residues "
        f"'{pocket.pocket}' at positions {_positions(pocket.positions)}{numbers}; protein length "
        f"{len(pocket.sequence)}; prompt form '{result.prompt_variant}'.",
    ]
    if result.reference_ligand:
        lines.append(f"Reference ligand: {result.reference_ligand}.")
    return lines + _molecule_batch(result)


def _positions(positions: Sequence[int]) -> str:
    # Every position, however many: hosts that show only the text block have no other way to get them.
    return ", ".join(str(p) for p in positions)


# -- reactions -------------------------------------------------------------------------------------
@_body(RetrosynthesisResult, "Retrosynthesis")
def _retrosynthesis(result: RetrosynthesisResult) -> list[str]:
    lines = [
        f"Product {result.product}: {len(result.candidates)} distinct reactant sets, validity "
        f"{_pct(result.validity)}; most often sampled first."
    ]

    def line(candidate: ReactantSet) -> str:
        balance = (
            "atoms accounted"
            if candidate.atoms_accounted
            else "missing " + ", ".join(f"{el} {n}" for el, n in candidate.missing_atoms.items())
        )
        return (
            f"  {candidate.rank}. {' . '.join(m.smiles for m in candidate.reactants)}  (x{candidate.count}, "
            f"{_pct(candidate.frequency)}; mean logprob {_num(candidate.mean_logprob)}; "
            f"best ppl {_num(candidate.best_perplexity)}; {balance})"
        )

    if not result.candidates:
        return [*lines, "No valid reactant set was sampled."]
    return lines + _listed(result.candidates, line, "reactant sets")


@_body(ReactionPredictionResult, "Reaction prediction")
def _reaction_prediction(result: ReactionPredictionResult) -> list[str]:
    lines = [
        f"Reactants {' . '.join(result.reactants)}: {len(result.candidates)} distinct product sets, validity "
        f"{_pct(result.validity)}; ranking: {result.ranking}."
    ]

    def line(candidate: ProductSet) -> str:
        balance = (
            "atoms balanced"
            if candidate.atoms_balanced
            else "excess " + ", ".join(f"{el} {n}" for el, n in candidate.excess_atoms.items())
        )
        products = " . ".join(product.smiles for product in candidate.products)
        return (
            f"  {candidate.rank}. {products}  (x{candidate.count}, {_pct(candidate.frequency)}; "
            f"mean logprob {_num(candidate.mean_logprob)}; best ppl {_num(candidate.best_perplexity)}; "
            f"{balance})"
        )

    if not result.candidates:
        return [*lines, "No valid product was sampled."]
    return lines + _listed(result.candidates, line, "product sets")


# -- proteins --------------------------------------------------------------------------------------
@_body(BindingSiteResult, "Binding sites")
def _binding_sites(result: BindingSiteResult) -> list[str]:
    source = (
        f" from {result.structure}" + (f" chain {result.chain}" if result.chain else "")
        if result.structure
        else ""
    )
    valid = sum(pocket_set.count for pocket_set in result.pocket_sets)
    lines = [
        f"Protein of {len(result.sequence)} residues{source}: {len(result.sites)} binding sites from "
        f"{valid} valid pocket answers, {len(result.pocket_sets)} distinct (validity "
        f"{_pct(result.validity)}; residues join a site at consensus >= {result.min_consensus:g}; "
        f"{result.grouping}).",
    ]

    def site_line(site: BindingSite) -> str:
        numbers = f"; residue numbers {', '.join(site.residue_numbers)}" if site.residue_numbers else ""
        letters = "".join(residue.letter for residue in site.residues)
        return (
            f"  Site {site.rank}: {site.size} residues '{letters}' at positions {_positions(site.positions)}"
            f"{numbers}; mean consensus {site.mean_consensus:.2f}"
        )

    if result.sites:
        lines += _listed(result.sites, site_line, "sites")
    else:
        lines.append("No residue reached the consensus threshold.")
    if result.pocket_sets:
        best = result.pocket_sets[0]
        numbers = f"; residue numbers {', '.join(best.residue_numbers)}" if best.residue_numbers else ""
        where = (
            f"at positions {_positions(best.positions)}{numbers}" if best.positions else "(no residue marked)"
        )
        lines.append(
            f"Most likely single answer (ppl {_num(best.best_perplexity)}; given by {best.count} of {valid} "
            f"valid samples, {_pct(best.frequency)}): {len(best.positions)} residues '{best.pocket}' {where}."
        )
        others = result.pocket_sets[1:]
        if others:
            counts = ", ".join(f"x{pocket_set.count}" for pocket_set in others[:MAX_ITEMS])
            lines.append(
                f"Other distinct answers: {len(others)} ({counts}{', ...' if len(others) > MAX_ITEMS else ''}); "
                "each with its residues in the structured result (stored under the result id)."
            )
    lines += [f"Note: {note}" for note in result.notes]
    return lines


@_body(VariantScoringResult, "Protein variant scores")
def _variants(result: VariantScoringResult) -> list[str]:
    lines = [
        f"{result.kind.capitalize()} wild type of {len(result.wild_type)} residues (numbering from "
        f"{result.offset}), log P {_num(result.wild_type_log_prob, 5)}: {len(result.variants)} variants "
        f"scored, {result.ranking}."
    ]

    def line(variant: VariantScore) -> str:
        return (
            f"  {variant.rank}. {variant.mutation}  (llr {variant.llr:+.3f}, per residue "
            f"{variant.llr_per_residue:+.4f}, log P {variant.log_prob:.2f})"
        )

    lines += _listed(result.variants, line, "variants")
    if result.unscored:
        lines.append(f"Not scored (time budget ended): {', '.join(result.unscored)}.")
    return lines


@_body(SequenceCompletionResult, "Sequence completions")
def _sequence_completion(result: SequenceCompletionResult) -> list[str]:
    lines = [
        f"{result.kind.capitalize()} prefix of {len(result.prefix)} residues: {len(result.completions)} distinct "
        f"completions, validity {_pct(result.validity)}; ranking: {result.ranking}."
    ]

    def line(completion: SequenceCompletion) -> str:
        return (
            f"  {completion.rank}. length {completion.length}, x{completion.count}, best ppl "
            f"{_num(completion.best_perplexity)}: {completion.sequence}"
        )

    return lines + _listed(result.completions, line, "completions")


# -- materials, scores, raw grammar ----------------------------------------------------------------
@_body(MOFGenerationResult, "Generated MOFs")
def _mofs(result: MOFGenerationResult) -> list[str]:
    novel = f", {result.novel_count} novel" if result.novel_count is not None else ""
    node = f" on metal node {result.metal_node}" if result.metal_node else ""
    lines = [
        f"Materials{node}: {result.unique_count} distinct valid{novel}; {result.valid_count} valid samples "
        f"(validity {_pct(result.validity)}); target {'reached' if result.target_reached else 'not reached'}; "
        f"ranking: {result.ranking}."
    ]
    if result.extra_materials:
        lines.append(
            f"{len(result.extra_materials)} more valid materials than asked for are listed apart as "
            "extra_materials (ask for more materials to see them here)."
        )

    def line(material: GeneratedMaterial) -> str:
        state = "valid" if material.valid else "INVALID: " + "; ".join(material.problems)
        novelty = "" if material.novel is None else (", novel" if material.novel else ", known")
        return (
            f"  {material.rank}. node {material.node_smiles} + linkers {' ; '.join(material.linker_smiles)}  "
            f"({material.reduced_formula}, net charge {material.charge.net:+d}, x{material.count}, best ppl "
            f"{_num(material.best_perplexity)}{novelty}; {state})"
        )

    return lines + _listed(result.materials, line, "materials")


@_body(ScoringResult, "Object scores")
def _scores(result: ScoringResult) -> list[str]:
    lines = [f"{len(result.scores)} objects scored; ranking: {result.ranking}."]

    def line(score: ObjectScore) -> str:
        shown = score.smiles or score.sequence or score.text
        answer = (
            f"; answer ppl {_num(score.answer_perplexity)}" if score.answer_perplexity is not None else ""
        )
        return (
            f"  {score.rank}. [{score.kind} #{score.index}] {_clip(shown, 160)}  (ppl {_num(score.perplexity)}, "
            f"log P {score.total_logprob:.2f} over {score.tokens} tokens{answer})"
        )

    lines += _listed(result.scores, line, "scores")
    if result.unscored:
        lines.append(f"Not scored (time budget ended): inputs {', '.join(str(i) for i in result.unscored)}.")
    return lines


@_body(GrammarCompletionResult, "Grammar completion")
def _grammar(result: GrammarCompletionResult) -> list[str]:
    valid = sum(1 for sample in result.samples if sample.valid)
    grammar = f", constrained by grammar {result.grammar}" if result.grammar else ""
    lines = [
        f"Prompt {_clip(result.prompt, 160)!r}: {len(result.samples)} samples, {valid} decode cleanly "
        f"(stop {', '.join(result.stop)}{grammar}); ranking: {result.ranking}."
    ]

    def line(sample: GrammarSample) -> str:
        state = "valid" if sample.valid else "invalid: " + "; ".join(sample.problems[:2])
        return (
            f"  {sample.rank}. [{state}; stop {sample.stop_tag or sample.finish_reason}; ppl "
            f"{_num(sample.perplexity)}] {_clip(sample.completion)!r}"
        )

    return lines + _listed(result.samples, line, "samples")


def registered_result_types() -> Iterable[type[TaskResult]]:
    """The result types with their own renderer (the rest render through the generic body)."""
    return tuple(_BODIES)
