"""Write a demo build's numbers into ``gguf/manifest.toml`` without touching anything else in it.

The manifest's schema belongs to the GGUF tooling (``logos_tools/models/manifest.py``). This recipe
only fills values: ``sha256`` and ``size`` in ``[demo.files.f16]`` / ``[demo.files.q8_0]``, and the
flat ``[demo.quality]`` table (quality figures plus recipe version, seed and build time). Comments
and every other table are kept byte for byte; the result is validated with the project's schema.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

_HEADER = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$")
_VARIANTS = {"f16": "logos-demo-f16.gguf", "q8_0": "logos-demo-q8_0.gguf"}


def _toml_value(value: float | int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(round(value, 4))
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Table name -> (header line index, end line index exclusive)."""
    headers = [(i, m.group(1).strip()) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    spans = {}
    for n, (index, name) in enumerate(headers):
        end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
        while end > index + 1 and not lines[end - 1].strip():
            end -= 1  # keep blank lines before the next header outside the section
        spans[name] = (index, end)
    return spans


def _set_keys(lines: list[str], span: tuple[int, int], values: dict[str, str]) -> list[str]:
    start, end = span
    body = lines[start + 1 : end]
    remaining = dict(values)
    for i, line in enumerate(body):
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in remaining:
            body[i] = f"{key} = {remaining.pop(key)}"
    body += [f"{key} = {value}" for key, value in remaining.items()]
    return [*lines[: start + 1], *body, *lines[end:]]


def quality_table(record: dict[str, Any]) -> dict[str, float | int | str]:
    """The flat ``[demo.quality]`` entries of a build record."""
    quality = record["quality"]
    molecules = quality["molecules_t1.2"]
    cool = quality["molecules_t0.8"]
    retro = quality["retrosynthesis"]
    search = quality["binding_site"]
    materials = quality["materials"]
    table: dict[str, float | int | str] = {
        "valid_smiles_t1.2": molecules["valid"],
        "unique_of_valid_t1.2": molecules["unique_of_valid"],
        "novel_of_unique_t1.2": molecules["novel_of_unique"],
        "valid_smiles_t0.8": cool["valid"],
        "unique_of_valid_t0.8": cool["unique_of_valid"],
        "novel_of_unique_t0.8": cool["novel_of_unique"],
        "molecule_samples": molecules["samples"],
        "q8_0_valid_smiles_t1.2": quality["q8_0_molecules_t1.2"]["valid"],
        "retro_round_trip_t1.2": retro["round_trip"],
        "retro_valid_answer_t1.2": retro["valid_answer"],
        "retro_products_with_a_round_trip": retro["products_with_a_round_trip"],
        "retro_top1_exact_greedy": retro["top1_exact_greedy"],
        "retro_top1_round_trip_greedy": retro["top1_round_trip_greedy"],
        "retro_held_out_products": retro["products"],
        "forward_top1_exact_greedy": quality["forward_reaction"]["top1_exact_greedy"],
        "search_follows_input": search["follows_input"],
        "search_follows_input_trained_proteins": search["follows_input_trained_marked"],
        "search_follows_input_unseen_in_search": search["follows_input_never_marked"],
        "ligand_valid_smiles_t1.2": quality["ligand_design"]["valid"],
        "mof_block_valid_t1.2": materials["valid"],
        "mof_node_from_table_of_valid": materials["node_from_table_of_valid"],
        "mof_novel_combination_of_valid": materials["novel_combination_of_valid"],
        "validation_loss_held_out_molecules": record["training"]["validation_loss"],
        "parameters": record["training"]["parameters"],
        "vocab_size": record["tokenizer"]["vocab_size"],
        "training_tokens_seen": record["training"]["tokens_seen"],
        "recipe_version": record["recipe_version"],
        "seed": record["seed"],
        "train_seconds": record["training"]["seconds"],
        "build_seconds": record["timings"]["total_s"],
        "built_with": (
            f"torch {record['environment']['torch']}, transformers {record['environment']['transformers']}, "
            f"llama-cpp-python {record['environment']['llama_cpp_python']}, {record['machine']['processor']}"
        ),
        "measured_with": "llama.cpp on the f16 GGUF; see gguf/recipes/README.md for the protocol",
    }
    return table


def write_demo_entry(manifest: Path, record: dict[str, Any]) -> None:
    """Fill the demo files' sha256/size and the quality table of ``manifest`` from a build record.

    Raises:
        RuntimeError: the manifest has no ``[demo.files.f16]``/``[demo.files.q8_0]``/``[demo]`` table
            (the GGUF tooling defines them), or the result breaks the manifest schema.
    """
    lines = manifest.read_text(encoding="utf-8").splitlines()
    for variant, name in _VARIANTS.items():
        span = _sections(lines).get(f"demo.files.{variant}")
        if span is None:
            raise RuntimeError(
                f"{manifest} has no [demo.files.{variant}] table; the GGUF tooling defines the demo entry. "
                "Add it (path, sha256, size) and run the build again."
            )
        entry = record["files"][name]
        lines = _set_keys(
            lines, span, {"sha256": _toml_value(entry["sha256"]), "size": _toml_value(entry["size"])}
        )
    body = [f'"{key}" = {_toml_value(value)}' for key, value in quality_table(record).items()]
    spans = _sections(lines)
    if "demo.quality" in spans:
        start, end = spans["demo.quality"]
        lines = [*lines[: start + 1], *body, *lines[end:]]
    elif "demo" in spans:
        lines = [*lines, "", "[demo.quality]", *body]
    else:
        raise RuntimeError(f"{manifest} has no [demo] table; the GGUF tooling defines it.")
    text = "\n".join(lines) + "\n"
    _validate(text, manifest)
    manifest.write_text(text, encoding="utf-8")


def _validate(text: str, manifest: Path) -> None:
    from logos_tools.models.manifest import Manifest

    try:
        Manifest.model_validate({**tomllib.loads(text), "folder": manifest.parent})
    except Exception as exc:
        raise RuntimeError(f"The updated manifest would be invalid: {exc}") from None
