"""The grammar profile: LOGOS tags, task templates, stop tags and sampling defaults, read from data.

A profile is a TOML file in ``grammar/`` (``logos-v1.toml``) or any path a user passes. It is loaded
lazily, once per name, and validated strictly so that a typo fails at load time with its key path.
"""

from __future__ import annotations

import functools
import string
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from logos_tools.errors import ProfileError
from logos_tools.shipped import grammar_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

BlockKind = Literal["molecule", "protein", "pocket", "antibody", "material", "metal"]
AnswerKind = Literal[
    "molecule",
    "molecule_set",
    "pocket_protein",
    "expanded_pocket_protein",
    "material",
    "protein",
    "antibody",
]
EOS = "eos"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingDefaults(_Strict):
    """Reference sampling settings of the LOGOS scripts."""

    temperature: float = Field(gt=0)
    top_p: float = Field(gt=0, le=1)
    top_k: int = Field(ge=0)
    repetition_penalty: float = Field(gt=0)


class TaskTemplate(_Strict):
    """One task: its prompt template, answer decoder, stop tags and reference sample count."""

    prompt: str
    answer: AnswerKind
    stop: tuple[str, ...]
    samples: int = Field(ge=1)
    max_new_tokens: int | Literal["auto"]

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of the ``{placeholders}`` in the prompt template, in order."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.prompt) if name)


class Unpublished(_Strict):
    """Settings LOGOS does not publish; defaults follow the project's grammar notes."""

    ligand_prompt_tail: str
    ligand_prompt_variant: Literal["plain", "letter", "smiles"]
    metal_block: Literal["smiles"]
    antibody_layout: Literal["heavy", "heavy_light"]
    antibody_chain_separator: str = Field(min_length=1, max_length=4)
    pocket_cutoff_angstrom: float = Field(gt=0, le=20)
    reaction_reagents: bool
    reaction_atom_maps: bool
    prompt_smiles: Literal["canonical", "as_given"]
    smiles_stereo: Literal["keep", "strip_stereo"]
    ranking: Literal["ppl"]


class ProfileInfo(_Strict):
    """Name and version of a profile."""

    name: str
    version: int
    description: str


class BaseTokens(_Strict):
    """Base-model control strings that may appear in decoded text."""

    bos: tuple[str, ...]
    end: tuple[str, ...]


class Profile(_Strict):
    """A validated grammar profile."""

    profile: ProfileInfo
    tags: dict[BlockKind, tuple[str, str]]
    task_tokens: dict[str, str]
    base_tokens: BaseTokens
    sampling: SamplingDefaults
    tasks: dict[str, TaskTemplate]
    unpublished: Unpublished
    residue_smiles: dict[str, str]

    @model_validator(mode="after")
    def _check_consistency(self) -> Profile:
        missing = {"molecule", "protein", "pocket", "antibody", "material", "metal"} - set(self.tags)
        if missing:
            raise ValueError(f"[tags] lacks {sorted(missing)}")
        known = set(self.all_tags())
        for name, task in self.tasks.items():
            for stop in task.stop:
                if stop != EOS and stop not in known:
                    raise ValueError(f"tasks.{name}.stop names {stop!r}, which is not a tag of this profile")
        return self

    @property
    def name(self) -> str:
        """The profile's name, e.g. ``logos-v1``."""
        return self.profile.name

    def start(self, kind: BlockKind) -> str:
        """The start tag of a block kind."""
        return self.tags[kind][0]

    def end(self, kind: BlockKind) -> str:
        """The end tag of a block kind."""
        return self.tags[kind][1]

    def wrap(self, kind: BlockKind, content: str) -> str:
        """``content`` between the start and end tags of ``kind`` (no checks: callers validate)."""
        start, end = self.tags[kind]
        return f"{start}{content}{end}"

    def all_tags(self) -> tuple[str, ...]:
        """Every LOGOS tag and task token, in a stable order."""
        pairs = [tag for pair in self.tags.values() for tag in pair]
        return (*pairs, *self.task_tokens.values())

    def task(self, name: str) -> TaskTemplate:
        """The template of a task.

        Raises:
            ProfileError: the profile has no such task.
        """
        try:
            return self.tasks[name]
        except KeyError:
            raise ProfileError(
                f"Profile {self.name!r} has no task {name!r}. Known tasks: {', '.join(sorted(self.tasks))}."
            ) from None


def _resolve(name_or_path: str) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".toml" or candidate.is_file():
        return candidate
    return grammar_dir() / f"{name_or_path}.toml"


def available_profiles() -> list[str]:
    """Names of the profiles shipped with logos-tools."""
    return sorted(p.stem for p in grammar_dir().glob("*.toml"))


@functools.lru_cache(maxsize=16)
def load_profile(name_or_path: str = "logos-v1") -> Profile:
    """Load and validate a grammar profile by shipped name or by file path (cached).

    Raises:
        ProfileError: the file is missing, is not TOML, or breaks the profile schema.
    """
    path = _resolve(name_or_path)
    if not path.is_file():
        raise ProfileError(
            f"Grammar profile {name_or_path!r} not found (looked for {path}). "
            f"Shipped profiles: {', '.join(available_profiles()) or 'none'}; or pass a path to a .toml file."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"Grammar profile {path} is not valid TOML: {exc}. Fix the file.") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ProfileError(f"Grammar profile {path} is invalid: {problems}. Fix those keys.") from None
