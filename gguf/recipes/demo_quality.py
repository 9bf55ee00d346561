"""Measure the demo model's quality on a GGUF file through llama.cpp, the way users run it.

The model is opened with ``logos_tools.models.native.open_llama`` (the project's loader: quiet, AMX
safe) and sampled with ``Llama.generate`` under our own token limit (``create_completion`` can run
past ``max_tokens``). Answers are judged with the project's grammar codecs. Sampling uses llama.cpp's
sampler chain (penalties over the last 64 tokens, top-k, top-p, temperature), seeded per sample.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import demo_sources as sources
from demo_corpus import Corpus
from rdkit import Chem

from logos_tools.errors import DecodeError
from logos_tools.grammar.blocks import parse_blocks
from logos_tools.grammar.material import decode_material
from logos_tools.grammar.molecule import check_smiles
from logos_tools.grammar.pocket import build_search_prompt, check_pocket_answer
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.reaction import (
    build_forward_prompt,
    build_retrosynthesis_prompt,
    decode_molecule_set,
)
from logos_tools.models.native import open_llama

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """One sampling setting; temperature 0 means greedy."""

    temperature: float
    top_p: float = 0.85
    top_k: int = 50
    repeat_penalty: float = 1.05

    @property
    def label(self) -> str:
        """Short name used as a key in the report."""
        return "greedy" if self.temperature == 0 else f"t{self.temperature:g}"


REFERENCE = Sampling(1.2)
COOL = Sampling(0.8)
GREEDY = Sampling(0.0, top_p=1.0, top_k=0, repeat_penalty=1.0)


@dataclass(frozen=True)
class Budget:
    """How many samples each measurement draws."""

    molecules: int = 256
    retro_products: int = 120
    retro_samples: int = 8
    forward_cases: int = 120
    search_samples: int = 4
    search_proteins: int | None = None  # None: every protein chain
    ligand_samples: int = 16
    ligand_pockets: int | None = None  # None: every real pocket
    materials: int = 256


FULL_BUDGET = Budget()
SMOKE_BUDGET = Budget(
    molecules=8,
    retro_products=2,
    retro_samples=2,
    forward_cases=2,
    search_samples=1,
    search_proteins=2,
    ligand_samples=2,
    ligand_pockets=2,
    materials=4,
)


class Sampler:
    """Seeded, bounded sampling from one llama.cpp model."""

    def __init__(self, llm: Any, profile: Profile, seed: int) -> None:
        self.llm = llm
        self.profile = profile
        self.seed = seed
        self.calls = 0
        self.tokens = 0
        self.eos = int(llm.token_eos())

    def token(self, text: str) -> int:
        """The id of a text that must be a single token (a tag)."""
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(ids) != 1:
            raise RuntimeError(f"{text!r} is not a single token in this model: {ids}")
        return int(ids[0])

    def complete(self, prompt: str, sampling: Sampling, max_new: int, stops: tuple[str, ...]) -> str:
        """One completion of ``prompt`` (BOS added), cut at the first stop tag (kept) or EOS."""
        stop_ids = {self.token(s) for s in stops} | {self.eos}
        prompt_ids = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        self.llm.set_seed(self.seed + self.calls)
        self.calls += 1
        out: list[int] = []
        for token in self.llm.generate(
            prompt_ids,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=0.0,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
            reset=True,
        ):
            if token == self.eos:
                break
            out.append(int(token))
            if token in stop_ids or len(out) >= max_new:
                break
        self.tokens += len(out)
        text: str = self.llm.detokenize(out, special=True).decode("utf-8", errors="replace")
        return text


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else float("nan")


def molecule_quality(sampler: Sampler, corpus: Corpus, n: int, sampling: Sampling) -> dict[str, Any]:
    """Validity, uniqueness and novelty of unconditional ``<MoleculeS>`` samples."""
    start, end = sampler.profile.tags["molecule"]
    valid: list[str] = []
    for _ in range(n):
        text = sampler.complete(start, sampling, 160, (end,))
        if not text.endswith(end):
            continue
        check = check_smiles(text[: -len(end)], sampler.profile)
        if check.valid and check.canonical:
            valid.append(check.canonical)
    unique = set(valid)
    novel = {s for s in unique if s not in corpus.training_smiles}
    return {
        "samples": n,
        "valid": _rate(len(valid), n),
        "unique_of_valid": _rate(len(unique), len(valid)),
        "novel_of_unique": _rate(len(novel), len(unique)),
    }


def _answer_set(completion: str, profile: Profile) -> frozenset[str] | None:
    try:
        answer = decode_molecule_set(completion, profile)
    except DecodeError:
        return None
    return answer.molecules if answer.valid and answer.molecules else None


def retro_quality(sampler: Sampler, corpus: Corpus, budget: Budget) -> dict[str, Any]:
    """Round-trip and exact-match rates of retrosynthesis on held-out products."""
    profile = sampler.profile
    templates = sources.load_templates()
    cases = corpus.retro_tests[: budget.retro_products]
    sampled = valid = round_trips = covered = 0
    greedy_exact = greedy_round_trip = 0
    for case in cases:
        prompt = build_retrosynthesis_prompt(case.product, profile)
        truth = {frozenset(answer) for answer in case.answers}
        any_round_trip = False
        for _ in range(budget.retro_samples):
            reactants = _answer_set(sampler.complete(prompt, REFERENCE, 192, ()), profile)
            sampled += 1
            if reactants is None:
                continue
            valid += 1
            if case.product in sources.forward_products(tuple(sorted(reactants)), templates):
                round_trips += 1
                any_round_trip = True
        covered += any_round_trip
        reactants = _answer_set(sampler.complete(prompt, GREEDY, 192, ()), profile)
        if reactants is not None:
            greedy_exact += reactants in truth
            greedy_round_trip += case.product in sources.forward_products(tuple(sorted(reactants)), templates)
    return {
        "products": len(cases),
        "samples_per_product": budget.retro_samples,
        "valid_answer": _rate(valid, sampled),
        "round_trip": _rate(round_trips, sampled),
        "products_with_a_round_trip": _rate(covered, len(cases)),
        "top1_exact_greedy": _rate(greedy_exact, len(cases)),
        "top1_round_trip_greedy": _rate(greedy_round_trip, len(cases)),
    }


def forward_quality(sampler: Sampler, corpus: Corpus, budget: Budget) -> dict[str, Any]:
    """Exact-match rate of greedy forward predictions on held-out reactant sets."""
    profile = sampler.profile
    cases = corpus.forward_tests[: budget.forward_cases]
    exact = 0
    for case in cases:
        prompt = build_forward_prompt(list(case.reactants), profile)
        products = _answer_set(sampler.complete(prompt, GREEDY, 128, ()), profile)
        exact += products == frozenset({case.product})
    return {"cases": len(cases), "top1_exact_greedy": _rate(exact, len(cases))}


def search_quality(sampler: Sampler, corpus: Corpus, budget: Budget) -> dict[str, Any]:
    """Fraction of ``<Search>`` answers whose letters follow the input sequence exactly."""
    profile = sampler.profile
    end = profile.end("protein")
    groups: dict[str, list[bool]] = {"trained_marked": [], "never_marked": []}
    with_pocket = 0
    for case in corpus.search_tests[: budget.search_proteins]:
        prompt = build_search_prompt(case.sequence, profile)
        max_new = 2 * len(case.sequence) + 64
        for sampling in [GREEDY] + [REFERENCE] * budget.search_samples:
            completion = sampler.complete(prompt, sampling, max_new, (end,))
            check = check_pocket_answer(completion, case.sequence, profile)
            groups["trained_marked" if case.trained_marked else "never_marked"].append(check.valid)
            with_pocket += check.valid and bool(check.positions)
    answers = sum(len(v) for v in groups.values())
    return {
        "proteins": len(corpus.search_tests[: budget.search_proteins]),
        "answers": answers,
        "follows_input": _rate(sum(sum(v) for v in groups.values()), answers),
        "follows_input_trained_marked": _rate(sum(groups["trained_marked"]), len(groups["trained_marked"])),
        "follows_input_never_marked": _rate(sum(groups["never_marked"]), len(groups["never_marked"])),
        "following_with_a_pocket": _rate(with_pocket, answers),
    }


def ligand_quality(sampler: Sampler, corpus: Corpus, budget: Budget) -> dict[str, Any]:
    """Valid-SMILES rate of ligand-design samples for the real pockets."""
    profile = sampler.profile
    end = profile.end("molecule")
    total = valid = 0
    for _, prompt in corpus.ligand_prompts[: budget.ligand_pockets]:
        for _ in range(budget.ligand_samples):
            text = sampler.complete(prompt, REFERENCE, 160, (end,))
            total += 1
            if text.endswith(end):
                valid += check_smiles(text[: -len(end)], profile).valid
    return {
        "pockets": len(corpus.ligand_prompts[: budget.ligand_pockets]),
        "samples": total,
        "valid": _rate(valid, total),
    }


def material_quality(sampler: Sampler, corpus: Corpus, n: int) -> dict[str, Any]:
    """MOF block validity (the material codec's checks), node-table and novelty rates."""
    profile = sampler.profile
    start, end = profile.tags["material"]
    valid = table_node = novel = 0
    combos: set[tuple[str, tuple[str, ...]]] = set()
    for _ in range(n):
        text = start + sampler.complete(start, REFERENCE, 320, (end,))
        try:
            material = decode_material(text, profile, geometry=False)
        except DecodeError:
            continue
        if not material.valid:
            continue
        valid += 1
        node = str(Chem.MolToSmiles(Chem.MolFromSmiles(material.node.smiles)))
        linkers = tuple(part.canonical for part in material.linkers)
        table_node += node in corpus.node_smiles
        novel += (node, linkers) not in corpus.training_materials
        combos.add((node, linkers))
    return {
        "samples": n,
        "valid": _rate(valid, n),
        "node_from_table_of_valid": _rate(table_node, valid),
        "novel_combination_of_valid": _rate(novel, valid),
        "unique_of_valid": _rate(len(combos), valid),
    }


def measure(
    gguf_path: Path,
    corpus: Corpus,
    profile: Profile,
    budget: Budget,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every quality number of the demo model, measured on ``gguf_path``."""
    started = time.perf_counter()
    llm = open_llama(gguf_path, n_ctx=2048, n_threads=2, seed=seed)
    sampler = Sampler(llm, profile, seed)
    report: dict[str, Any] = {"file": gguf_path.name}
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("molecules_t1.2", lambda: molecule_quality(sampler, corpus, budget.molecules, REFERENCE)),
        ("molecules_t0.8", lambda: molecule_quality(sampler, corpus, budget.molecules, COOL)),
        ("retrosynthesis", lambda: retro_quality(sampler, corpus, budget)),
        ("forward_reaction", lambda: forward_quality(sampler, corpus, budget)),
        ("binding_site", lambda: search_quality(sampler, corpus, budget)),
        ("ligand_design", lambda: ligand_quality(sampler, corpus, budget)),
        ("materials", lambda: material_quality(sampler, corpus, budget.materials)),
    ]
    for name, step in steps:
        if progress is not None:
            progress(name)
        report[name] = step()
    report["sampling"] = {
        "reference": vars(REFERENCE),
        "cool": vars(COOL),
        "engine": "llama.cpp Llama.generate (penalty window 64 tokens; top-k, top-p, then temperature)",
    }
    report["generated_tokens"] = sampler.tokens
    report["seconds"] = round(time.perf_counter() - started, 1)
    llm.close()
    return report


def generate_once(gguf_path: Path, profile: Profile, seed: int) -> str:
    """One greedy ``<MoleculeS>`` completion: the load-and-generate check for any GGUF (q8_0 too)."""
    llm = open_llama(gguf_path, n_ctx=512, n_threads=2, seed=seed)
    try:
        sampler = Sampler(llm, profile, seed)
        start, end = profile.tags["molecule"]
        return start + sampler.complete(start, GREEDY, 64, (end,))
    finally:
        llm.close()


def tags_are_single_tokens(gguf_path: Path, profile: Profile) -> dict[str, int]:
    """Each LOGOS tag's token id in the GGUF (raises when a tag is not exactly one token)."""
    llm = open_llama(gguf_path, n_ctx=64, n_threads=1)
    try:
        sampler = Sampler(llm, profile, 0)
        return {tag: sampler.token(tag) for tag in profile.all_tags()}
    finally:
        llm.close()


def blocks_of(text: str, profile: Profile) -> list[str]:
    """Kinds of the top-level blocks of ``text`` (for the build log)."""
    return [block.kind for block in parse_blocks(text, profile).blocks]
