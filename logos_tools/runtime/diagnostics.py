"""What this installation can do: llama.cpp build features, GPU offload, library versions."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from logos_tools.errors import ModelError
from logos_tools.models.registry import ModelRegistry
from logos_tools.settings import Settings

LIBRARIES = (
    "logos-tools",
    "llama-cpp-python",
    "numpy",
    "pydantic",
    "rdkit",
    "biopython",
    "pymatgen",
    "mcp",
    "langchain-core",
    "langgraph",
    "gguf",
    "transformers",
    "torch",
)

BUILD_HINTS = {
    "cuda": 'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python',
    "metal": 'CMAKE_ARGS="-DGGML_METAL=on" pip install --force-reinstall --no-cache-dir llama-cpp-python',
    "cpu_portable": 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir llama-cpp-python',
}

# Flags of llama_print_system_info that are build options, not CPU instruction sets.
_BUILD_OPTIONS = frozenset({"LLAMAFILE", "OPENMP", "REPACK", "KLEIDIAI", "ACCELERATE"})


class LlamaBuild(BaseModel):
    """Features of the installed llama.cpp build."""

    installed: bool
    version: str | None = None
    system_info: str | None = None
    cpu_features: list[str] = []  # instruction sets the build uses (AVX2, AVX512, NEON...)
    build_features: list[str] = []  # other build options (OPENMP, LLAMAFILE, REPACK...)
    cpu_has_amx: bool = False
    gpu_offload: bool = False


class Diagnosis(BaseModel):
    """The ``logos doctor`` report."""

    python: str
    platform: str
    llama: LlamaBuild
    libraries: dict[str, str | None]
    build_hints: dict[str, str]
    models: list[dict[str, Any]] | None = None  # None: not inspected (no settings given)
    notes: list[str]


def cpu_flags() -> set[str]:
    """CPU flags the kernel reports (Linux); empty elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def inspect_llama_build() -> LlamaBuild:
    """The llama.cpp build behind llama-cpp-python, without loading a model."""
    try:
        import llama_cpp
    except ImportError:
        return LlamaBuild(installed=False)
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    enabled = sorted(
        part.split("=")[0].strip()
        for section in info.split("|")
        for part in [section.split(":")[-1]]
        if part.strip().endswith("= 1")
    )
    features = [name for name in enabled if name not in _BUILD_OPTIONS]
    flags = cpu_flags()
    return LlamaBuild(
        installed=True,
        version=importlib.metadata.version("llama-cpp-python"),
        system_info=info.strip(),
        cpu_features=features,
        build_features=[name for name in enabled if name in _BUILD_OPTIONS],
        cpu_has_amx=bool({"amx_tile", "amx_int8"} & flags) or "AMX_INT8" in features,
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
    )


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _models(settings: Settings, notes: list[str]) -> list[dict[str, Any]]:
    try:
        rows = ModelRegistry.from_settings(settings).list_models()
    except ModelError as exc:
        notes.append(str(exc))
        return []
    return [row.model_dump(mode="json") for row in rows]


def diagnose(settings: Settings | None = None) -> Diagnosis:
    """Collect the whole report; with ``settings``, also the models and the backend they select.

    A damaged model registry becomes a note, not an exception: doctor must always answer.
    """
    llama = inspect_llama_build()
    notes: list[str] = []
    models = _models(settings, notes) if settings is not None else None
    if settings is not None and settings.backend == "openai":
        notes.append(
            f"LOGOS_BACKEND=openai: tools call {settings.openai_base_url or '(LOGOS_OPENAI_BASE_URL unset)'}"
            f" for model {settings.openai_model or '(any)'}; the llama.cpp build above is not used."
        )
    if not llama.installed:
        notes.append("llama-cpp-python is not installed: pip install 'logos-tools[llama]'.")
    if llama.cpu_has_amx:
        notes.append(
            "This CPU has AMX: quantized GGUFs are loaded with use_extra_bufts=False, which avoids "
            "llama.cpp's AMX repack crash (llama.cpp issue #20824)."
        )
    if llama.installed and not llama.gpu_offload:
        notes.append("This llama.cpp build runs on the CPU only; see build_hints for CUDA or Metal.")
    return Diagnosis(
        python=sys.version.split()[0],
        platform=platform.platform(),
        llama=llama,
        libraries={name: _version(name) for name in LIBRARIES},
        build_hints=BUILD_HINTS,
        models=models,
        notes=notes,
    )
