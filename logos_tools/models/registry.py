"""The user's model registry: named GGUF files (with sha256), the demo model and known checkpoints.

The registry is one JSON file (``Settings.registry_path``, normally ``LOGOS_HOME/models.json``)::

    {"version": 1, "models": {"NAME": {"path": ..., "sha256": ..., "size": ..., "mtime_ns": ...,
                                       "added": ISO time, "architecture": ..., "quantization": ...}}}

Every write goes to a temporary file that replaces the registry atomically, under an advisory lock
(POSIX), so a crash or a concurrent ``logos model add`` never leaves a torn or half-merged file.
Registered files are checked on ``resolve``: a file whose size or mtime changed is hashed again and
must still match the recorded sha256.

Names: ``demo`` is the shipped f16 demo GGUF and ``demo-q8_0`` its Q8_0 variant (reserved); any other
name is a registered file; a path to an existing file resolves to that file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from logos_tools.errors import InputError, ModelError, ModelFileError, ModelNotFoundError
from logos_tools.grammar.profile import load_profile
from logos_tools.models.atomic import atomic_write_text
from logos_tools.models.digest import sha256_file
from logos_tools.models.gguf_file import check_gguf_header, inspect_gguf
from logos_tools.models.manifest import Manifest, load_manifest
from logos_tools.settings import Settings

if sys.platform != "win32":
    import fcntl

DEMO_NAME = "demo"
_NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_model_name(name: str) -> str:
    """``name`` if it can be registered: not empty, not a path, not a demo name, within the name rule.

    Checkpoint names are checked by ``ModelRegistry.add``, which knows the manifest.

    Raises:
        InputError: the name is empty or whitespace, holds a path separator, is ``demo`` or
            ``demo-<anything>`` (any case), or breaks the rule (1-64 letters, digits, '.', '_', '-').
    """
    if not name.strip():
        raise InputError(
            f"Model name {name!r} is empty. Pass a name, e.g. --name logos-1b-q4, or leave --name out to "
            "use the file name."
        )
    if "/" in name or "\\" in name:
        raise InputError(
            f"Model name {name!r} holds a path separator, so it would read as a file path. Pass a plain "
            "name, e.g. --name logos-1b-q4."
        )
    lowered = name.lower()
    if lowered == DEMO_NAME or lowered.startswith(f"{DEMO_NAME}-"):
        raise InputError(
            f"Model name {name!r} is reserved for the built-in demo model ({DEMO_NAME}, {DEMO_NAME}-<type>). "
            "Pick another --name, e.g. --name my-model."
        )
    if not _NAME_RULE.match(name):
        raise InputError(
            f"Model name {name!r} is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit. Pass --name, e.g. --name logos-1b-q4."
        )
    return name


class RegisteredModel(BaseModel):
    """One entry of the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    path: str
    sha256: str
    size: int
    mtime_ns: int
    added: str
    architecture: str
    quantization: str


class ResolvedModel(BaseModel):
    """A model name or path turned into a checked file."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: Path
    sha256: str
    is_demo: bool
    source: Literal["demo", "registered", "path"]


class ModelListing(BaseModel):
    """One row of ``logos model list``."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["demo", "registered", "checkpoint"]
    status: str
    path: str | None = None
    sha256: str | None = None
    size: int | None = None
    architecture: str | None = None
    quantization: str | None = None
    hf_repo: str | None = None
    recommended_quantizations: list[str] = []
    description: str = ""


class ModelRegistry:
    """The JSON registry at ``path`` plus the shipped manifest (demo model and known checkpoints)."""

    def __init__(
        self, path: Path, *, manifest: Manifest | None = None, models_dir: Path | None = None
    ) -> None:
        self.path = path
        self.manifest = manifest or load_manifest()
        self.models_dir = models_dir or path.parent / "models"
        self.hash_cache = path.with_name("sha256-cache.json")

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """The registry of ``settings.home``."""
        return cls(settings.registry_path, models_dir=settings.home / "models")

    # -- storage ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if sys.platform == "win32":  # pragma: no cover - no advisory locks; writes stay atomic
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a", encoding="utf-8") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _damaged(self, problem: str) -> ModelError:
        return ModelError(
            f"The model registry {self.path} is damaged: {problem}. It must hold "
            '{"version": 1, "models": {NAME: {"name": NAME, "path": ..., "sha256": ..., ...}}} as '
            "`logos model add` writes it. Repair it by hand, or move it aside (e.g. to models.json.bak) "
            "and register your GGUF files again with `logos model add PATH --name NAME`."
        )

    def _read(self) -> dict[str, RegisteredModel]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._damaged(f"it is not valid UTF-8 JSON ({exc})") from None
        except OSError as exc:
            raise ModelError(
                f"Cannot read the model registry {self.path}: {exc.strerror or exc}. Check its permissions."
            ) from None
        if not isinstance(data, dict):
            raise self._damaged(f"the top level is a JSON {type(data).__name__}, not an object")
        if data.get("version", 1) != 1:
            raise ModelError(
                f"The model registry {self.path} has version {data.get('version')!r}; this logos-tools reads "
                "version 1. Upgrade logos-tools, or move the file aside and register your models again."
            )
        models = data.get("models", {})
        if not isinstance(models, dict):
            raise self._damaged(f'"models" is a JSON {type(models).__name__}, not an object of names')
        entries: dict[str, RegisteredModel] = {}
        for name, entry in models.items():
            try:
                entries[name] = RegisteredModel.model_validate(entry)
            except ValidationError as exc:
                fields = "; ".join(
                    f"{'.'.join(str(p) for p in error['loc']) or 'entry'}: {error['msg']}"
                    for error in exc.errors()
                )
                raise self._damaged(f"the entry {name!r} is invalid ({fields})") from None
            if entries[name].name != name:
                raise self._damaged(f"the entry {name!r} says its name is {entries[name].name!r}")
        return entries

    def _write(self, models: dict[str, RegisteredModel]) -> None:
        payload = {"version": 1, "models": {name: m.model_dump() for name, m in sorted(models.items())}}
        atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")

    # -- public API ------------------------------------------------------------------------------

    def entries(self) -> list[RegisteredModel]:
        """The registered models, sorted by name.

        Raises:
            ModelError: the registry file is damaged.
        """
        return sorted(self._read().values(), key=lambda m: m.name)

    def add(self, path: Path, *, name: str | None = None, profile: str = "logos-v1") -> RegisteredModel:
        """Register a GGUF file under ``name`` (default: the file name without .gguf).

        Raises:
            InputError: the name is empty, a path, invalid, reserved (see ``check_model_name``), a
                checkpoint name, or already registered to another file.
            ModelNotFoundError: no file at ``path``.
            ModelFileError: the file is not a readable GGUF.
        """
        path = Path(path).expanduser().resolve()
        # Only a missing name defaults to the file name: an empty one is a mistake, not a request.
        name = check_model_name(path.stem if name is None else name)
        if self.manifest.checkpoint(name) is not None:
            raise InputError(
                f"Model name {name!r} is the name of a LOGOS checkpoint; name the GGUF after its type, "
                f"e.g. --name {name.lower()}-q4_k_m."
            )
        info = inspect_gguf(path, tags=load_profile(profile).all_tags(), hash_cache=self.hash_cache)
        stat = path.stat()
        entry = RegisteredModel(
            name=name,
            path=str(path),
            sha256=info.sha256 or "",
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            added=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            architecture=info.architecture,
            quantization=info.quantization,
        )
        with self._locked():
            models = self._read()
            existing = models.get(name)
            if existing is not None and existing.path != entry.path:
                raise InputError(
                    f"Model name {name!r} is already registered to {existing.path}. "
                    f"Remove it first (`logos model remove {name}`) or pick another --name."
                )
            models[name] = entry
            self._write(models)
        return entry

    def remove(self, name: str) -> RegisteredModel:
        """Forget a registered model (the file itself is not deleted).

        Raises:
            InputError: ``name`` is a built-in demo model or a known checkpoint, which are not registered.
            ModelNotFoundError: no registered model has that name.
        """
        key = name.strip()
        if key in self._demo_names():
            raise InputError(
                f"{key!r} is the built-in demo model: it ships with logos-tools and cannot be removed. To "
                "stop using it, set LOGOS_MODEL to a registered model name or a GGUF path."
            )
        with self._locked():
            models = self._read()
            entry = models.pop(key, None)
            if entry is None:
                registered = ", ".join(sorted(models)) or "none"
                checkpoint = self.manifest.checkpoint(key)
                if checkpoint is not None:
                    raise InputError(
                        f"{key!r} is a known LOGOS checkpoint (listed by the package), not a registered "
                        f"model, so there is nothing to remove. Registered: {registered}."
                    )
                raise ModelNotFoundError(f"No registered model is named {key!r}. Registered: {registered}.")
            self._write(models)
        return entry

    def _demo_names(self) -> list[str]:
        return [_demo_name(variant) for variant in self.manifest.demo.files]

    def _demo_listing(self, variant: str) -> ModelListing:
        path = self.manifest.demo_path(variant)
        entry = self.manifest.demo.files[variant]
        shipped = path.is_file()
        return ModelListing(
            name=_demo_name(variant),
            kind="demo",
            status="demo shipped" if shipped else "demo not built",
            path=str(path),
            sha256=entry.sha256,
            size=entry.size if entry.size is not None else (path.stat().st_size if shipped else None),
            architecture=self.manifest.demo.architecture,
            quantization=variant.upper(),
            description=self.manifest.demo.description,
        )

    def list_models(self) -> list[ModelListing]:
        """Demo variants, registered models and known LOGOS checkpoints, each with its status.

        Raises:
            ModelError: the registry file is damaged.
        """
        rows = [self._demo_listing(variant) for variant in self.manifest.demo.files]
        for entry in self.entries():
            present = Path(entry.path).is_file()
            rows.append(
                ModelListing(
                    name=entry.name,
                    kind="registered",
                    status="registered" if present else "registered, file missing",
                    path=entry.path,
                    sha256=entry.sha256,
                    size=entry.size,
                    architecture=entry.architecture,
                    quantization=entry.quantization,
                )
            )
        for checkpoint in self.manifest.checkpoints:
            folder = self.models_dir / checkpoint.name
            downloaded = (folder / "config.json").is_file()
            rows.append(
                ModelListing(
                    name=checkpoint.name,
                    kind="checkpoint",
                    status="downloaded (convert it)" if downloaded else "not downloaded",
                    path=str(folder) if downloaded else None,
                    architecture=checkpoint.architecture,
                    hf_repo=checkpoint.id,
                    size=int(checkpoint.size_gb * 1e9) if checkpoint.size_gb else None,
                    recommended_quantizations=list(checkpoint.recommended_quantizations),
                    description=checkpoint.notes,
                )
            )
        return rows

    def _resolve_demo(self, variant: str) -> ResolvedModel:
        path = self.manifest.demo_path(variant)
        name = _demo_name(variant)
        if not path.is_file():
            raise ModelNotFoundError(
                f"The built-in demo model file {path} does not exist yet. Build it with the demo recipe in "
                f"{self.manifest.folder / self.manifest.demo.recipe} (it trains and converts the demo model), "
                "or set LOGOS_MODEL to a registered model or a GGUF path."
            )
        entry = self.manifest.demo.files[variant]
        if entry.size is not None and path.stat().st_size != entry.size:
            raise ModelFileError(
                f"The demo model file {path} has {path.stat().st_size} bytes but the manifest records "
                f"{entry.size}. It was modified or rebuilt without updating gguf/manifest.toml: rebuild it "
                "with the recipe or reinstall logos-tools."
            )
        check_gguf_header(path)
        sha256 = entry.sha256 or sha256_file(path, cache_path=self.hash_cache)
        return ResolvedModel(name=name, path=path, sha256=sha256, is_demo=True, source="demo")

    def resolve(self, name_or_path: str) -> ResolvedModel:
        """Turn ``demo``, ``demo-q8_0``, a registered name or a GGUF path into a checked file.

        Raises:
            ModelNotFoundError: nothing matches, the demo is not built, a known checkpoint is not
                converted yet, or a registered file was deleted.
            ModelFileError: the file is not GGUF, or changed since it was registered.
            ModelError: the registry file is damaged.
        """
        key = name_or_path.strip()
        if key == DEMO_NAME:
            return self._resolve_demo("f16")
        if key.startswith(f"{DEMO_NAME}-") and key[len(DEMO_NAME) + 1 :] in self.manifest.demo.files:
            return self._resolve_demo(key[len(DEMO_NAME) + 1 :])
        models = self._read()
        if key in models:
            return self._resolve_registered(models[key])
        candidate = Path(key).expanduser()
        if candidate.exists():
            return self._resolve_path(candidate, models)
        checkpoint = self.manifest.checkpoint(key)
        if checkpoint is not None:
            raise ModelNotFoundError(
                f"{checkpoint.id} is a known LOGOS checkpoint but no GGUF of it is registered. Download, "
                f"convert and register it: `logos model pull {checkpoint.id}`, then `logos model convert "
                f"{self.models_dir / checkpoint.name} {checkpoint.name}-f16.gguf`, `logos model quantize "
                f"{checkpoint.name}-f16.gguf {checkpoint.name}-{checkpoint.recommended_quantizations[0]}.gguf "
                f"--type {checkpoint.recommended_quantizations[0]}`, and `logos model add` the result."
            )
        # The same names `logos model list` shows, in its order.
        known = ", ".join([*self._demo_names(), *sorted(models)])
        checkpoints = ", ".join(checkpoint.name for checkpoint in self.manifest.checkpoints)
        raise ModelNotFoundError(
            f"No model named {key!r} and no file at that path. Known names: {known}; LOGOS checkpoints "
            f"(not converted yet: convert and register one first): {checkpoints or 'none'}. Register a GGUF with "
            "`logos model add PATH --name NAME`, or pass a path to a .gguf file."
        )

    def _resolve_registered(self, entry: RegisteredModel) -> ResolvedModel:
        path = Path(entry.path)
        if not path.is_file():
            raise ModelNotFoundError(
                f"The registered model {entry.name!r} points to {path}, which no longer exists. "
                f"Register the file's new location (`logos model remove {entry.name}` then `logos model add`)."
            )
        stat = path.stat()
        if stat.st_size != entry.size or stat.st_mtime_ns != entry.mtime_ns:
            current = sha256_file(path, cache_path=self.hash_cache)
            if current != entry.sha256:
                raise ModelFileError(
                    f"The registered model {entry.name!r} ({path}) changed since it was registered: sha256 "
                    f"{current[:12]}... instead of {entry.sha256[:12]}.... If the new file is intended, register "
                    f"it again: `logos model remove {entry.name}` then `logos model add {path} --name {entry.name}`."
                )
        check_gguf_header(path)
        is_demo = bool(_logos_flag(path))
        return ResolvedModel(
            name=entry.name, path=path, sha256=entry.sha256, is_demo=is_demo, source="registered"
        )

    def _resolve_path(self, path: Path, models: dict[str, RegisteredModel]) -> ResolvedModel:
        check_gguf_header(path)
        resolved = path.resolve()
        for entry in models.values():
            if Path(entry.path) == resolved:
                return self._resolve_registered(entry)
        sha256 = sha256_file(resolved, cache_path=self.hash_cache)
        return ResolvedModel(
            name=resolved.stem,
            path=resolved,
            sha256=sha256,
            is_demo=bool(_logos_flag(resolved)),
            source="path",
        )


def _demo_name(variant: str) -> str:
    """``demo`` for the f16 file, ``demo-<variant>`` for the others (e.g. ``demo-q8_0``)."""
    return DEMO_NAME if variant == "f16" else f"{DEMO_NAME}-{variant}"


def _logos_flag(path: Path) -> Any:
    return inspect_gguf(path, compute_sha256=False).logos_metadata.get("logos.demo", False)
