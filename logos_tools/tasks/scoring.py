"""Scoring given objects by the model's likelihood: molecules, proteins, antibodies, materials, reactions
or raw grammar text in; perplexity, total log-probability and token counts out, lowest perplexity first.

Every object is encoded (and so validated) through the grammar layer before any model work: one bad
object fails the whole call with an error naming its index and value. Texts with a task token (every
reaction) are also scored over their answer span, the part after the task token, the way a task's
answer is judged given its prompt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logos_tools.errors import DecodeError, InputError
from logos_tools.grammar.antibody import encode_antibody
from logos_tools.grammar.decode import decode_text
from logos_tools.grammar.material import encode_material
from logos_tools.grammar.molecule import canonical_smiles, encode_molecule
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import check_sequence, encode_protein
from logos_tools.grammar.reaction import (
    build_forward_prompt,
    build_retrosynthesis_prompt,
    encode_reaction,
    parse_reaction_smiles,
)
from logos_tools.runtime.base import ScoreResult
from logos_tools.tasks.common import RunReport, SamplingReport, TaskContext, TaskResult, to_clause

ObjectKind = Literal["molecule", "protein", "antibody", "material", "reaction", "text"]
MAX_OBJECTS = 512
SCORE_CHUNK = 8  # texts per backend call: the time budget is checked between calls
RANKING = "lowest whole-text perplexity first"


class MaterialValue(BaseModel):
    """A material given by its building blocks."""

    model_config = ConfigDict(extra="forbid")

    node: str = Field(description="SMILES of the metal node, e.g. '[Zn][O]([Zn])([Zn])[Zn]'.")
    linkers: list[str] = Field(description="SMILES of the organic linkers, e.g. ['OC(=O)c1ccc(C(=O)O)cc1'].")


class ScoreItem(BaseModel):
    """One object to score."""

    model_config = ConfigDict(extra="forbid")

    kind: ObjectKind = Field(
        description="molecule (SMILES), protein (sequence), antibody (heavy chain, or HEAVY|LIGHT in the "
        "heavy_light layout), material ({node, linkers}), reaction ('A.B>>C'), or text (LOGOS grammar)."
    )
    value: str | MaterialValue = Field(description="The object, in the form its kind names.")
    direction: Literal["forward", "retro"] | None = Field(
        default=None, description="Reactions only: score as forward (<React>, default) or retro prompt."
    )


class ObjectScore(BaseModel):
    """The model's likelihood of one object."""

    rank: int = Field(description="1 is the most likely object (see `ranking`).")
    index: int = Field(description="Position of the object in the input list.")
    kind: ObjectKind
    text: str = Field(description="The LOGOS grammar text that was scored.")
    smiles: str | None = Field(default=None, description="Canonical SMILES (molecules only).")
    sequence: str | None = Field(default=None, description="The sequence (proteins and antibodies only).")
    perplexity: float | None = Field(description="Whole-text perplexity (lower is more likely).")
    total_logprob: float = Field(description="Sum of the log-probabilities of every predicted token.")
    tokens: int = Field(description="Tokens of the text as the model reads it (BOS included if it adds one).")
    answer_perplexity: float | None = Field(
        default=None, description="Perplexity of the part after the task token (reactions, task texts)."
    )
    answer_logprob: float | None = None
    answer_tokens: int | None = None


class ScoringResult(TaskResult):
    """Scores of the given objects, most likely first.

    Nothing is sampled: ``sampling`` reports the raw model distribution the log-probabilities come
    from (temperature 1, no top-p / top-k cut, no penalty, no new tokens).
    """

    scores: list[ObjectScore]
    unscored: list[int] = Field(
        default=[], description="Indices of objects not scored because the time budget ended."
    )
    ranking: str = RANKING


@dataclass(frozen=True)
class ScoringText:
    """A text ready to score: the part before the answer (empty when none) and the answer."""

    prefix: str
    continuation: str

    @property
    def text(self) -> str:
        """The whole text."""
        return self.prefix + self.continuation


def raw_distribution_report() -> SamplingReport:
    """The ``sampling`` field of a scoring result: log-probabilities of the unmodified model."""
    return SamplingReport(
        temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, seed=None, max_new_tokens=0
    )


def score_texts(
    ctx: TaskContext, pairs: Sequence[tuple[str, str]], *, label: str
) -> tuple[list[ScoreResult], str | None]:
    """Score ``(prefix, continuation)`` pairs in small batches while the time budget lasts.

    Returns the scores of the first pairs (all of them unless the budget ended) and why scoring
    stopped early (``"time budget"``) or None.

    Raises:
        InputError: a text is too long for the model's context.
        BackendError: the model failed.
    """
    results: list[ScoreResult] = []
    for start in range(0, len(pairs), SCORE_CHUNK):
        if ctx.cancel is not None:
            ctx.cancel.raise_if_cancelled()
        if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
            return results, "time budget"
        results.extend(ctx.backend.score(list(pairs[start : start + SCORE_CHUNK])))
        ctx.report(f"{label}: {len(results)}/{len(pairs)} scored", len(results), len(pairs))
    return results, None


def scoring_run_report(ctx: TaskContext, *, requested: int, scored: int, stopped_by: str | None) -> RunReport:
    """Run report of a scoring task: every text scored is a valid 'sample'; none is generated."""
    return RunReport(
        samples_requested=requested,
        samples_drawn=scored,
        valid=scored,
        invalid=0,
        partial=stopped_by is not None,
        partial_reason=None
        if stopped_by is None
        else f"{stopped_by} ended after {scored} of {requested} texts were scored",
        budget_hit=None if stopped_by is None else "time",
        elapsed_s=round(time.monotonic() - ctx.started, 3),
        generated_tokens=0,
    )


def finite(value: float) -> float | None:
    """``value`` rounded, or None when it is not a finite number (no predicted token)."""
    return round(value, 6) if math.isfinite(value) else None


def antibody_chains(value: str, profile: Profile) -> tuple[str, str | None]:
    """Heavy and light chain of an antibody string: ``HEAVY`` or, in the ``heavy_light`` layout,
    ``HEAVY<separator>LIGHT``.

    Raises:
        EncodeError: the chains do not match the layout (see ``antibody.encode_antibody``).
    """
    if profile.unpublished.antibody_layout == "heavy_light":
        separator = profile.unpublished.antibody_chain_separator
        if value.count(separator) == 1:
            heavy, light = value.split(separator)
            return heavy, light
    return value, None


def _text_item(value: str, profile: Profile) -> ScoringText:
    try:
        decoded = decode_text(value, profile, geometry=False)
    except DecodeError as exc:
        raise InputError(f"{exc} (position {exc.position})") from None
    if decoded.problems:
        raise InputError(
            "the grammar text has problems: "
            + " | ".join(to_clause(problem) for problem in decoded.problems)
            + ". Fix them, or score the "
            "object by its kind (molecule, protein, ...)."
        )
    if decoded.task_markers:
        marker = decoded.task_markers[0]
        cut = marker.start + len(marker.token)
        return ScoringText(value[:cut], value[cut:])
    return ScoringText("", value)


def encode_item(item: ScoreItem, profile: Profile) -> tuple[ScoringText, str | None, str | None]:
    """The text to score for one object, with its canonical SMILES or sequence when it has one.

    Raises:
        InputError: the object breaks its kind's rules (EncodeError and DecodeError become InputError).
    """
    if item.direction is not None and item.kind != "reaction":
        raise InputError(f"direction={item.direction!r} applies to reactions only. Leave it unset.")
    if item.kind == "material":
        if not isinstance(item.value, MaterialValue):
            raise InputError(
                "a material is given as {'node': SMILES, 'linkers': [SMILES, ...]}. To score material "
                "grammar text, use kind 'text'."
            )
        return ScoringText("", encode_material(item.value.node, item.value.linkers, profile)), None, None
    if not isinstance(item.value, str):
        raise InputError(f"a {item.kind} is given as a string, not an object with node and linkers.")
    value = item.value
    if item.kind == "molecule":
        return ScoringText("", encode_molecule(value, profile)), canonical_smiles(value, profile), None
    if item.kind == "protein":
        return ScoringText("", encode_protein(value, profile)), None, check_sequence(value)
    if item.kind == "antibody":
        heavy, light = antibody_chains(value, profile)
        text = encode_antibody(heavy, light, profile)
        start, end = profile.tags["antibody"]
        return ScoringText("", text), None, text[len(start) : -len(end)]
    if item.kind == "reaction":
        reaction = parse_reaction_smiles(value, profile)
        direction = item.direction or "forward"
        full = encode_reaction(reaction.reactants, reaction.products, direction, profile)
        prompt = (
            build_forward_prompt(reaction.reactants, profile)
            if direction == "forward"
            else build_retrosynthesis_prompt(reaction.products[0], profile)
        )
        return ScoringText(prompt, full[len(prompt) :]), None, None
    return _text_item(value, profile), None, None


def _as_item(index: int, raw: ScoreItem | Mapping[str, Any]) -> ScoreItem:
    if isinstance(raw, ScoreItem):
        return raw
    try:
        return ScoreItem.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'object'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise InputError(
            f"Object {index} ({_shorten(repr(raw))}) is not a score item: {problems}. Pass "
            "{'kind': 'molecule', 'value': 'CCO'} (kinds: molecule, protein, antibody, material, reaction, "
            "text)."
        ) from None


def score_objects(ctx: TaskContext, objects: Sequence[ScoreItem | Mapping[str, Any]]) -> ScoringResult:
    """Score each object by the model's likelihood of its LOGOS text; rank them, lowest perplexity first.

    Raises:
        InputError: no objects, too many, or an object that breaks its kind's rules (the message names
            its index and value; nothing is scored then).
        BackendError: the model failed.
    """
    if isinstance(objects, (str, Mapping)) or not objects:
        raise InputError(
            "Pass a non-empty list of objects to score, e.g. [{'kind': 'molecule', 'value': 'CCO'}]."
        )
    if len(objects) > MAX_OBJECTS:
        raise InputError(
            f"{len(objects)} objects given, more than the limit of {MAX_OBJECTS}. Score in batches."
        )
    profile = ctx.profile
    encoded = []
    for index, raw in enumerate(objects):
        item = _as_item(index, raw)
        try:
            encoded.append((item, *encode_item(item, profile)))
        except (InputError, DecodeError) as exc:
            value = item.value if isinstance(item.value, str) else item.value.model_dump()
            raise InputError(
                f"Object {index} ({item.kind} {_shorten(repr(value))}) is invalid: {exc}"
            ) from None

    results, stopped_by = score_texts(
        ctx, [(t.prefix, t.continuation) for _, t, _, _ in encoded], label="score"
    )
    scores = []
    # Fewer results than objects when the time budget ended: the rest are listed as unscored.
    for index, ((item, text, smiles, sequence), result) in enumerate(zip(encoded, results, strict=False)):
        has_answer = bool(text.prefix) and bool(text.continuation)
        answer_tokens = len(result.token_ids) - result.answer_start
        scores.append(
            ObjectScore(
                rank=0,
                index=index,
                kind=item.kind,
                text=text.text,
                smiles=smiles,
                sequence=sequence,
                perplexity=finite(result.perplexity),
                total_logprob=round(result.total_logprob, 6),
                tokens=len(result.token_ids),
                answer_perplexity=finite(result.answer_perplexity) if has_answer else None,
                answer_logprob=round(result.answer_logprob, 6) if has_answer else None,
                answer_tokens=answer_tokens if has_answer else None,
            )
        )
    scores.sort(key=lambda s: (s.perplexity if s.perplexity is not None else math.inf, s.index))
    for rank, score in enumerate(scores, start=1):
        score.rank = rank
    return ScoringResult(
        scores=scores,
        unscored=list(range(len(results), len(encoded))),
        model=ctx.model_report(),
        sampling=raw_distribution_report(),
        run=scoring_run_report(ctx, requested=len(encoded), scored=len(results), stopped_by=stopped_by),
    )


def _shorten(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
