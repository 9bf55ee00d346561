"""The shipped model manifest (``gguf/manifest.toml``): known LOGOS checkpoints and the demo model.

Schema (validated strictly, so a typo fails at load time with its key path)::

    schema = 1
    [[checkpoints]]            one per released LOGOS checkpoint
    id, name, architecture ("llama" | "qwen3"), tokenizer_family ("llama-bpe" | "qwen2"),
    parameters, size_gb (optional), recommended_quantizations, notes
    [demo]                     the project's own demo model
    name, description, architecture, tokenizer_family, recipe, hf (HF folder, relative to gguf/)
    [demo.files.f16] / [demo.files.q8_0]   path (relative to gguf/), sha256 and size once built
    [demo.quality]             measured quality figures, name = number or text
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logos_tools.errors import ModelFileError, ModelNotFoundError
from logos_tools.shipped import gguf_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Checkpoint(_Strict):
    """A released LOGOS checkpoint on the Hugging Face Hub."""

    id: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    name: str
    architecture: Literal["llama", "qwen3"]
    tokenizer_family: Literal["llama-bpe", "qwen2"]
    parameters: str
    size_gb: float | None = None
    recommended_quantizations: tuple[str, ...]
    notes: str = ""


class DemoFile(_Strict):
    """One shipped demo GGUF; ``sha256`` and ``size`` are filled when the file is built."""

    path: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, ge=0)


class Demo(_Strict):
    """The project's demo model: its files, the HF folder it was converted from, its quality."""

    name: str
    description: str
    architecture: Literal["llama", "qwen3"]
    tokenizer_family: Literal["llama-bpe", "qwen2"]
    recipe: str
    hf: str
    files: dict[str, DemoFile]
    quality: dict[str, float | int | str] = {}


class Manifest(_Strict):
    """The whole manifest, with paths resolved against the folder it was read from."""

    schema_: int = Field(alias="schema")
    checkpoints: tuple[Checkpoint, ...]
    demo: Demo
    folder: Path = Path()

    def checkpoint(self, name_or_id: str) -> Checkpoint | None:
        """The checkpoint with this id (``LOGOS-Hub/LOGOS-8B``) or short name (``LOGOS-8B``)."""
        key = name_or_id.strip().lower()
        for checkpoint in self.checkpoints:
            if key in (checkpoint.id.lower(), checkpoint.name.lower()):
                return checkpoint
        return None

    def demo_path(self, variant: str = "f16") -> Path:
        """Absolute path of a demo file variant ("f16" or "q8_0").

        Raises:
            ModelNotFoundError: the manifest lists no such variant.
        """
        entry = self.demo.files.get(variant)
        if entry is None:
            raise ModelNotFoundError(
                f"The demo model has no {variant!r} variant. Variants: {', '.join(sorted(self.demo.files))}."
            )
        return self.folder / entry.path

    @property
    def demo_hf_dir(self) -> Path:
        """The Hugging Face folder the demo GGUFs were converted from (may not exist yet)."""
        return self.folder / self.demo.hf


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest (the shipped one by default; cached per path).

    Raises:
        ModelFileError: the manifest is missing, not TOML, or breaks the schema.
    """
    return _load(path or gguf_dir() / "manifest.toml")


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"The model manifest {path} is missing. Reinstall logos-tools.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"The model manifest {path} is not valid TOML: {exc}. Fix the file.") from None
    try:
        manifest = Manifest.model_validate({**data, "folder": path.parent})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ModelFileError(f"The model manifest {path} is invalid: {problems}. Fix those keys.") from None
    return manifest
