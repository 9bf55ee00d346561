"""MOF generation: sample materials (a metal node plus organic linkers), unconditionally or from a given
metal node, decode and check them, and count the valid, unique and novel ones.

Samples are drawn in rounds until ``num_materials`` distinct valid materials are found or a budget (time,
or ``max_samples``) ends. The last round can give more valid materials than asked for: the best
``num_materials`` are listed, the others kept apart as extra materials. Decoding skips the 3D embedding;
it is done afterwards, once per listed valid material, while the time budget lasts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from logos_tools.errors import DecodeError, EncodeError, InputError, ProfileError
from logos_tools.grammar.material import DecodedMaterial, decode_material
from logos_tools.grammar.material_chem import embed, metals_of, node_valence_problem, parse_lenient
from logos_tools.grammar.molecule import check_smiles_text, mol_to_canonical
from logos_tools.grammar.profile import EOS, Profile
from logos_tools.runtime.base import Sample
from logos_tools.tasks.answers import unfinished_reason
from logos_tools.tasks.common import (
    Drawn,
    InvalidSample,
    SamplingOptions,
    TaskContext,
    TaskResult,
    clip,
    draw,
    run_report,
    sampling_report,
    to_clause,
    whole_text_perplexity,
)

MAX_MATERIALS = 1000
MAX_SAMPLES = 10000
_MAX_ROUND = 512  # samples per backend call: keeps rounds short enough to stop near the target
RANKING = "valid materials first, then the lowest whole-text perplexity (prompt + completion)"

MaterialKey = tuple[str, tuple[str, ...]]
ReferenceEntry = str | tuple[str, Sequence[str]]


class MaterialCheckReport(BaseModel):
    """One named check on a material and its verdict."""

    name: str
    passed: bool
    severity: str = Field(description="'error' checks decide validity; 'warning' checks are heuristics.")
    detail: str


class ChargeEstimate(BaseModel):
    """Estimated charges (heuristic) of the node and of each linker, and the smallest neutral ratio."""

    node: int
    linkers: list[int]
    net: int = Field(description="Charge of one node plus one of each linker.")
    neutral_nodes: int | None = Field(description="Nodes in the smallest neutral combination, if any.")
    neutral_linker_sets: int | None = Field(description="Linker sets in that combination, if any.")


class GeneratedMaterial(BaseModel):
    """One distinct decoded material (equal node and linkers are one material, sampled `count` times)."""

    rank: int
    text: str = Field(description="The material block as LOGOS grammar text (first sample).")
    node_smiles: str = Field(description="Canonical SMILES of the metal node.")
    linker_smiles: list[str] = Field(description="Canonical SMILES of the linkers, in the order written.")
    formula: str = Field(description="Composition of one node plus one of each linker (pymatgen).")
    reduced_formula: str
    valid: bool = Field(description="Every error-severity check passed.")
    problems: list[str] = Field(description="Failed error checks with their details.")
    checks: list[MaterialCheckReport]
    charge: ChargeEstimate
    embedded_3d: bool | None = Field(
        description="Whether RDKit placed every block in 3D; None when not attempted (invalid material, "
        "an extra material, or the time budget ended)."
    )
    embedding_notes: list[str] = Field(description="Why a block was not embedded, or why none was tried.")
    novel: bool | None = Field(description="Not in `reference`; None when no reference was given.")
    count: int
    sample_indices: list[int]
    best_perplexity: float | None


class MOFGenerationResult(TaskResult):
    """Generated materials with their checks, and valid / unique / novel counts.

    ``invalid_samples`` lists every sample that is not a valid material: those that do not decode, and
    those that decode into a material failing an error check (also listed in ``materials``, valid false).
    """

    metal_node: str | None = Field(description="The metal node the prompt was conditioned on, as written.")
    materials: list[GeneratedMaterial] = Field(
        description="The best num_materials distinct valid materials (fewer when a budget ended the run), "
        "then the decoded materials failing an error check (valid false); ranks follow the ranking over "
        "all decoded materials, extra_materials included."
    )
    extra_materials: list[GeneratedMaterial] = Field(
        default_factory=list,
        description="Distinct valid materials beyond the num_materials asked for (the last round gave "
        "more), best first; not embedded in 3D. Ask for more materials to have them listed.",
    )
    valid_count: int = Field(description="Samples that decoded into a material passing every error check.")
    unique_count: int = Field(
        description="Distinct valid materials (by canonical node and sorted linkers), extra_materials "
        "included."
    )
    novel_count: int | None = Field(
        description="Distinct valid materials not in `reference`; None without one."
    )
    validity: float = Field(description="valid_count / samples drawn.")
    target_reached: bool = Field(description="True when num_materials distinct valid materials were found.")
    ranking: str = RANKING


@dataclass
class _Group:
    key: MaterialKey
    material: DecodedMaterial
    text: str
    indices: list[int] = field(default_factory=list)
    perplexities: list[float] = field(default_factory=list)


def material_key(node: str, linkers: Sequence[str]) -> MaterialKey:
    """The identity of a material: its canonical node and its sorted canonical linkers."""
    return node, tuple(sorted(linkers))


def _canonical_block(smiles: str, what: str, profile: Profile) -> str:
    parsed = parse_lenient(check_smiles_text(smiles, what, profile), what)
    return mol_to_canonical(parsed.mol, profile)


def reference_keys(reference: Sequence[ReferenceEntry], profile: Profile) -> set[MaterialKey]:
    """Keys of reference materials given as material grammar strings or ``(node, linkers)`` pairs.

    Raises:
        InputError: an entry is neither, or its text or SMILES cannot be read (the message names it).
    """
    if isinstance(reference, str):
        raise InputError(
            "reference must be a list of materials, got one string. Pass [material] or a list of "
            "(node SMILES, [linker SMILES]) pairs."
        )
    keys: set[MaterialKey] = set()
    for index, entry in enumerate(reference):
        try:
            if isinstance(entry, str):
                material = decode_material(entry, profile, geometry=False)
                keys.add(material_key(material.node.canonical, [p.canonical for p in material.linkers]))
                continue
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise InputError("it is neither a material string nor a (node, linkers) pair")
            node, linkers = entry
            if not isinstance(node, str) or isinstance(linkers, str) or not linkers:
                raise InputError("a pair must be (node SMILES, non-empty list of linker SMILES)")
            keys.add(
                material_key(
                    _canonical_block(node, "metal node SMILES", profile),
                    [_canonical_block(s, f"linker {i} SMILES", profile) for i, s in enumerate(linkers, 1)],
                )
            )
        except (DecodeError, InputError) as exc:
            raise InputError(
                f"reference[{index}] = {_shorten(repr(entry))} is not usable: {to_clause(str(exc))}. Pass "
                "material grammar text ('<MaterialS><MetalS>node<MetalE><MoleculeS>linker<MoleculeE>"
                "<MaterialE>') or a (node SMILES, [linker SMILES]) pair."
            ) from None
    return keys


def metal_prefix(metal_node: str | None, profile: Profile) -> tuple[str, str | None]:
    """The ``{metal_prefix}`` of the MOF prompt (a metal block, or empty) and the node as written.

    Raises:
        EncodeError: the node SMILES cannot be read, holds tags or whitespace, has no metal, or breaks
            the valence of its non-metal atoms.
    """
    if metal_node is None:
        return "", None
    what = "metal node SMILES"
    stripped = check_smiles_text(metal_node, what, profile)
    parsed = parse_lenient(stripped, what)
    if not metals_of(parsed.mol):
        raise EncodeError(
            f"The {what} {stripped!r} has no metal atom. Pass the SMILES of the metal node, e.g. "
            "'[Zn][O]([Zn])([Zn])[Zn]', or no node for unconditional generation."
        )
    problem = node_valence_problem(parsed.mol)
    if problem is not None:
        raise EncodeError(
            f"The {what} {stripped!r} breaks valence rules once its metal bonds are cut: {to_clause(problem)}. "
            "Check the non-metal atoms' bonds and charges."
        )
    written = (
        mol_to_canonical(parsed.mol, profile)
        if profile.unpublished.prompt_smiles == "canonical"
        else stripped
    )
    return profile.wrap("metal", written), written


def build_mof_prompt(metal_node: str | None, profile: Profile) -> tuple[str, str | None]:
    """The MOF-generation prompt from the profile's ``mof_generation`` template, and the node as written.

    Raises:
        EncodeError: the metal node is invalid (see ``metal_prefix``).
        ProfileError: the template does not take exactly ``{metal_prefix}``.
    """
    template = profile.task("mof_generation")
    if set(template.placeholders) != {"metal_prefix"}:
        raise ProfileError(
            f"Profile {profile.name!r} task 'mof_generation' prompt {template.prompt!r} must use exactly the "
            f"placeholder ['metal_prefix'], found {list(template.placeholders)}. Fix the template."
        )
    prefix, written = metal_prefix(metal_node, profile)
    return template.prompt.format_map({"metal_prefix": prefix}), written


def _problems(material: DecodedMaterial) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in material.checks if c.severity == "error" and not c.passed]


def _undecodable_reason(sample: Sample, exc: DecodeError, profile: Profile) -> str:
    """Why a sample is not a material; an answer the model ended early is not "truncated output"."""
    end = profile.end("material")
    if sample.finish_reason == "stop" and sample.stop_tag == EOS and end not in sample.text:
        # No token limit cut it: the model ended the text itself, so raising a limit would not help.
        return f"the model ended the text without closing the material block with {end}"
    return str(exc)


def _next_round(target: int, found: int, drawn: int, left: int) -> int:
    """Samples for the next round: enough for the missing materials at the yield seen so far."""
    missing = target - found
    rate = found / drawn if drawn else 1.0
    wanted = math.ceil(missing / max(rate, 0.1) * 1.2) if drawn else missing
    return max(1, min(wanted, left, _MAX_ROUND))


def generate_mofs(
    ctx: TaskContext,
    *,
    num_materials: int = 10,
    metal_node: str | None = None,
    reference: Sequence[ReferenceEntry] | None = None,
    sampling: SamplingOptions | None = None,
    max_samples: int | None = None,
) -> MOFGenerationResult:
    """Generate metal-organic frameworks by sampling the LOGOS material grammar.

    ``metal_node`` (a SMILES) conditions the prompt as ``<MaterialS><MetalS>node<MetalE>``. ``reference``
    (material grammar strings or ``(node, linkers)`` pairs) defines novelty. Drawing stops once
    ``num_materials`` distinct valid materials are found, or when the time budget or ``max_samples``
    (default ``4 * num_materials``, at least the profile's sample count) ends: the run is then partial.
    The best ``num_materials`` valid materials are listed; more that the last round gave are returned
    apart, as ``extra_materials``.

    Raises:
        InputError: ``num_materials`` or ``max_samples`` out of range, or a reference entry unusable.
        EncodeError: the metal node SMILES is invalid.
        BackendError: the model failed.
    """
    profile = ctx.profile
    if not 1 <= num_materials <= MAX_MATERIALS:
        raise InputError(f"num_materials={num_materials} is out of range: ask for 1 to {MAX_MATERIALS}.")
    task = profile.task("mof_generation")
    budget = max(4 * num_materials, task.samples) if max_samples is None else max_samples
    if max_samples is not None and not num_materials <= max_samples <= MAX_SAMPLES:
        raise InputError(
            f"max_samples={max_samples} is out of range: it must be at least num_materials ({num_materials}) "
            f"and at most {MAX_SAMPLES}."
        )
    budget = min(budget, MAX_SAMPLES)
    prompt, written_node = build_mof_prompt(metal_node, profile)
    known = reference_keys(reference, profile) if reference is not None else None
    params = (sampling or SamplingOptions()).resolve(profile)
    max_new = task.max_new_tokens if isinstance(task.max_new_tokens, int) else 320

    drawn = Drawn()
    groups: dict[MaterialKey, _Group] = {}
    invalid: list[InvalidSample] = []
    valid_keys: set[MaterialKey] = set()
    valid_samples = 0
    asked = 0
    while len(valid_keys) < num_materials and len(drawn.samples) < budget and drawn.stopped_by is None:
        n = _next_round(num_materials, len(valid_keys), len(drawn.samples), budget - len(drawn.samples))
        first = len(drawn.samples)
        asked += n
        draw(
            ctx,
            prompt=prompt,
            n=n,
            stop=task.stop,
            max_new_tokens=max_new,
            params=params,
            label="generate_mofs",
            drawn=drawn,
        )
        for index in range(first, len(drawn.samples)):
            sample = drawn.samples[index]
            reason = unfinished_reason(sample) if sample.finish_reason != "length" else None
            if reason is None:
                text = prompt + sample.text
                try:
                    material = decode_material(text, profile, geometry=False)
                except DecodeError as exc:
                    reason = _undecodable_reason(sample, exc, profile)
            if reason is not None:
                invalid.append(InvalidSample(index=index, text=clip(sample.text), reason=reason))
                continue
            key = material_key(material.node.canonical, [p.canonical for p in material.linkers])
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(key, material, text[material.start : material.end])
            group.indices.append(index)
            ppl = whole_text_perplexity(drawn.prompt_logprobs, sample)
            if ppl is not None:
                group.perplexities.append(ppl)
            if material.valid:
                valid_samples += 1
                valid_keys.add(key)
            else:
                invalid.append(
                    InvalidSample(index=index, text=clip(sample.text), reason="; ".join(_problems(material)))
                )

    ranked = sorted(
        groups.values(),
        key=lambda g: (not g.material.valid, min(g.perplexities, default=math.inf), g.indices[0]),
    )
    reports = [
        _report(group, ctx, known, rank=rank, embed_3d=rank <= num_materials)
        for rank, group in enumerate(ranked, start=1)
    ]
    # valid materials come first, so the first num_materials reports hold the best valid ones
    materials = [m for m in reports if m.valid][:num_materials] + [m for m in reports if not m.valid]
    extra = [m for m in reports if m.valid][num_materials:]
    invalid.sort(key=lambda s: s.index)
    reached = len(valid_keys) >= num_materials
    partial_reason = None
    if not reached:
        partial_reason = (
            f"{drawn.stopped_by or 'sample budget'} ended after {len(drawn.samples)} samples with "
            f"{len(valid_keys)} of {num_materials} distinct valid materials"
            + ("" if drawn.stopped_by else f" (max_samples={budget})")
        )
    return MOFGenerationResult(
        metal_node=written_node,
        materials=materials,
        extra_materials=extra,
        valid_count=valid_samples,
        unique_count=len(valid_keys),
        novel_count=None if known is None else len(valid_keys - known),
        validity=round(valid_samples / max(len(drawn.samples), 1), 4),
        target_reached=reached,
        invalid_samples=invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new),
        run=run_report(
            ctx,
            drawn,
            requested=asked,
            valid=valid_samples,
            partial_reason=partial_reason,
        ),
    )


def _report(
    group: _Group, ctx: TaskContext, known: set[MaterialKey] | None, *, rank: int, embed_3d: bool
) -> GeneratedMaterial:
    material = group.material
    embedded: bool | None = None
    notes: list[str] = []
    if not material.valid:
        notes.append("not attempted: the material fails its checks")
    elif not embed_3d:
        notes.append("not attempted: an extra material, beyond the num_materials asked for")
    elif ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        notes.append("not attempted: the time budget ended")
    else:
        embedded = True
        for part in (material.node, *material.linkers):
            geometry = embed(part.mol)
            if geometry.molecule is None:
                embedded = False
                notes.append(f"{part.role} {part.canonical}: {geometry.reason}")
    balance = material.charge
    return GeneratedMaterial(
        rank=rank,
        text=group.text,
        node_smiles=material.node.canonical,
        linker_smiles=[p.canonical for p in material.linkers],
        formula=material.composition.formula,
        reduced_formula=material.composition.reduced_formula,
        valid=material.valid,
        problems=_problems(material),
        checks=[
            MaterialCheckReport(name=c.name, passed=c.passed, severity=c.severity, detail=c.detail)
            for c in material.checks
        ],
        charge=ChargeEstimate(
            node=balance.node,
            linkers=list(balance.linkers),
            net=balance.net,
            neutral_nodes=balance.ratio[0] if balance.ratio else None,
            neutral_linker_sets=balance.ratio[1] if balance.ratio else None,
        ),
        embedded_3d=embedded,
        embedding_notes=notes,
        novel=None if known is None else group.key not in known,
        count=len(group.indices),
        sample_indices=group.indices,
        best_perplexity=round(min(group.perplexities), 4) if group.perplexities else None,
    )


def _shorten(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
