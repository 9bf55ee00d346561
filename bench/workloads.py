"""What the benchmark runs: the models, the three task prompts (built by the grammar layer from real
data), the sampling settings, and the judge that turns a completion into valid / unique.

Two kinds of model:

* ``demo``: the shipped demo GGUF. Real task settings (the profile's stop tags and token limits), so
  validity and uniqueness mean something and every path must reach the same quality.
* ``1b-shape-*``: random weights of the LOGOS-pretrain-1B shape. Samples are noise, so every sample
  runs exactly ``FIXED_NEW_TOKENS`` new tokens: no stop tags, and the end-of-generation tokens have
  zero rows in the output head (``build_1b_shape.py``), which keeps them out of every top-50.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from logos_tools.errors import DecodeError
from logos_tools.grammar.complex_pocket import pocket_from_complex
from logos_tools.grammar.ligand_prompt import build_ligand_prompt
from logos_tools.grammar.material import decode_material
from logos_tools.grammar.molecule import decode_molecule
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.grammar.reaction import build_retrosynthesis_prompt, decode_molecule_set
from logos_tools.runtime.base import SamplingParams
from logos_tools.shipped import grammar_dir
from logos_tools.tasks.mof_generation import build_mof_prompt, material_key

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work"
DEMO_DIR = REPO / "gguf" / "demo"
SHAPE_DIR = WORK / "1b-shape"

TASKS = ("retrosynthesis", "ligand_design", "mof_generation")
PATHS = ("logos", "naive", "reference", "floor")
FIXED_NEW_TOKENS = 64
THREADS = 2
N_CTX = 8192  # the toolkit's default context (LOGOS_N_CTX)
SEED = 20260
# The LOGOS reference sampling settings (README of LOGOS-Hub/LOGOS), identical in every path.
SAMPLING = SamplingParams(temperature=1.2, top_p=0.85, top_k=50, repetition_penalty=1.05, seed=SEED)

# The pocket: progesterone receptor ligand-binding domain (PDB 1A28, chain A, 251 residues) around its
# bound progesterone (STR A): 28 pocket residues within 6 Å, about 300 prompt tokens.
POCKET_STRUCTURE = "1a28.pdb"
POCKET_LIGAND = ("STR", "A")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the benchmark: its GGUF, the HF folder of the same weights, and its kind."""

    name: str  # demo | 1b-shape-q4_k_m | 1b-shape-f16
    gguf: Path
    hf_dir: Path
    fixed_tokens: bool  # True: random weights, exactly FIXED_NEW_TOKENS per sample

    def available(self) -> bool:
        """Whether the GGUF exists (the HF folder is needed by the reference path only)."""
        return self.gguf.is_file()


def model_specs(demo_gguf: Path | None = None, demo_hf: Path | None = None) -> dict[str, ModelSpec]:
    """The benchmark's models by name."""
    return {
        "demo": ModelSpec(
            "demo", demo_gguf or DEMO_DIR / "logos-demo-f16.gguf", demo_hf or DEMO_DIR / "hf", False
        ),
        "1b-shape-q4_k_m": ModelSpec(
            "1b-shape-q4_k_m", SHAPE_DIR / "logos-1b-shape-q4_k_m.gguf", SHAPE_DIR / "hf", True
        ),
        "1b-shape-f16": ModelSpec(
            "1b-shape-f16", SHAPE_DIR / "logos-1b-shape-f16.gguf", SHAPE_DIR / "hf", True
        ),
    }


@dataclass(frozen=True)
class Workload:
    """One task prompt with its stop tags and token limit, as every path must run it."""

    task: str
    prompt: str
    stop: tuple[str, ...]  # LOGOS tags and/or "eos"
    max_new_tokens: int
    fixed_tokens: bool

    @property
    def stop_tags(self) -> tuple[str, ...]:
        """The stop list without the model's own end-of-generation marker."""
        return tuple(tag for tag in self.stop if tag != "eos")


def retrosynthesis_product() -> str:
    """The product of the first golden reaction fixture (real data from the grammar fixtures)."""
    with (grammar_dir() / "fixtures" / "reactions.jsonl").open(encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    return str(first["products"][0])


def task_prompt(task: str, profile: Profile) -> str:
    """The grammar-layer prompt of ``task``.

    Raises:
        KeyError: the task is not one of ``TASKS``.
    """
    if task == "retrosynthesis":
        return build_retrosynthesis_prompt(retrosynthesis_product(), profile)
    if task == "ligand_design":
        ligand, chain = POCKET_LIGAND
        pocket = pocket_from_complex(
            grammar_dir() / "fixtures" / "structures" / POCKET_STRUCTURE,
            ligand=ligand,
            ligand_chain=chain,
            profile=profile,
        )
        return build_ligand_prompt(pocket.sequence, pocket.positions, profile)
    if task == "mof_generation":
        return build_mof_prompt(None, profile)[0]
    raise KeyError(f"unknown task {task!r}; use one of {TASKS}")


def workload(task: str, model: ModelSpec, profile: Profile) -> Workload:
    """The workload of ``task`` on ``model``: real stop tags and limits, or fixed tokens."""
    prompt = task_prompt(task, profile)
    if model.fixed_tokens:
        return Workload(task, prompt, (), FIXED_NEW_TOKENS, True)
    template = profile.task(task)
    limit = template.max_new_tokens if isinstance(template.max_new_tokens, int) else 256
    return Workload(task, prompt, tuple(template.stop), limit, False)


def default_profile() -> Profile:
    """The grammar profile every workload uses."""
    return load_profile("logos-v1")


def judge(task: str, workload_prompt: str, completion: str, profile: Profile) -> Hashable | None:
    """The identity of a valid answer (for uniqueness), or None when the completion is invalid.

    ``completion`` is the generated text with its stop tag and without the model's EOS. Validity uses
    the same grammar decoders as the tasks: a reactant set of valid SMILES (retrosynthesis), one valid
    closed molecule block (ligand design), one material block passing every error-level check (MOF).
    """
    try:
        if task == "retrosynthesis":
            answer = decode_molecule_set(completion, profile)
            return answer.molecules if answer.valid else None
        if task == "ligand_design":
            tail = profile.unpublished.ligand_prompt_tail
            opened = tail if workload_prompt.endswith(tail) else ""
            return decode_molecule(opened + completion, profile).canonical
        if task == "mof_generation":
            material = decode_material(workload_prompt + completion, profile, geometry=False)
            if not material.valid:
                return None
            return material_key(material.node.canonical, [part.canonical for part in material.linkers])
    except DecodeError:
        return None
    raise KeyError(f"unknown task {task!r}")


def quality(task: str, prompt: str, completions: list[str], profile: Profile) -> tuple[float, float | None]:
    """(validity, uniqueness): valid / all, and distinct valid answers / valid answers."""
    keys = [judge(task, prompt, text, profile) for text in completions]
    valid = [key for key in keys if key is not None]
    validity = len(valid) / len(completions) if completions else 0.0
    uniqueness = len(set(valid)) / len(valid) if valid else None
    return round(validity, 4), (round(uniqueness, 4) if uniqueness is not None else None)
