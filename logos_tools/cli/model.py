"""``logos model``: list, register, inspect, download, convert, quantize and verify GGUF models."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click

from logos_tools.cli.files import check_output_file, force_option
from logos_tools.cli.output import emit, json_option
from logos_tools.settings import Settings


def _registry() -> Any:
    from logos_tools.models.registry import ModelRegistry

    return ModelRegistry.from_settings(Settings.from_env())


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


@click.group()
def model() -> None:
    """Manage GGUF models: the built-in demo, your registered files and the LOGOS checkpoints.

    \b
    Examples:
      logos model list
      logos model pull LOGOS-Hub/LOGOS-pretrain-1B
      logos model convert ~/.logos-tools/models/LOGOS-pretrain-1B logos-1b-f16.gguf
      logos model quantize logos-1b-f16.gguf logos-1b-q4_k_m.gguf --type Q4_K_M
      logos model add logos-1b-q4_k_m.gguf --name logos-1b
      logos model verify logos-1b --hf ~/.logos-tools/models/LOGOS-pretrain-1B
    """


@model.command("list")
@json_option
def list_models(as_json: bool) -> None:
    """List the demo model, registered models and known LOGOS checkpoints with their status."""
    rows = _registry().list_models()
    lines = [f"{'NAME':<24} {'KIND':<11} {'STATUS':<24} {'QUANT':<7} {'SIZE':>9}  PATH / HF REPO"]
    for row in rows:
        where = row.path or row.hf_repo or ""
        lines.append(
            f"{row.name:<24} {row.kind:<11} {row.status:<24} {row.quantization or '-':<7} "
            f"{_size(row.size):>9}  {where}"
        )
    emit([row.model_dump(mode="json") for row in rows], as_json=as_json, text="\n".join(lines))


@model.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name to register the file under (default: file name without .gguf).")
@json_option
def add(path: Path, name: str | None, as_json: bool) -> None:
    """Register a GGUF file (validated, sha256 recorded) under a name."""
    entry = _registry().add(path, name=name)
    emit(
        entry,
        as_json=as_json,
        text=f"registered {entry.name}: {entry.path} ({entry.quantization}, sha256 {entry.sha256[:16]}...)",
    )


@model.command("remove")
@click.argument("name")
@json_option
def remove(name: str, as_json: bool) -> None:
    """Forget a registered model (the file is not deleted)."""
    entry = _registry().remove(name)
    emit(entry, as_json=as_json, text=f"removed {entry.name} ({entry.path} is left on disk)")


@model.command("info")
@click.argument("name_or_path")
@json_option
def info(name_or_path: str, as_json: bool) -> None:
    """Show what a GGUF holds: architecture, quantization, context, vocabulary, LOGOS tags, sha256."""
    from logos_tools.grammar.profile import load_profile
    from logos_tools.models.gguf_file import inspect_gguf

    settings = Settings.from_env()
    registry = _registry()
    resolved = registry.resolve(name_or_path)
    details = inspect_gguf(
        resolved.path, tags=load_profile(settings.profile).all_tags(), hash_cache=registry.hash_cache
    )
    payload = {"name": resolved.name, "is_demo": resolved.is_demo, **details.model_dump(mode="json")}
    tags = ", ".join(f"{t.tag}={t.token_id}" for t in details.tags if t.token_id is not None)
    text = "\n".join(
        [
            f"name:          {resolved.name}{' (demo model)' if resolved.is_demo else ''}",
            f"path:          {details.path}",
            f"size:          {_size(details.file_size)}",
            f"sha256:        {details.sha256}",
            f"architecture:  {details.architecture}",
            f"quantization:  {details.quantization}",
            f"parameters:    {details.parameter_count:,}",
            f"context:       {details.context_length}",
            f"vocabulary:    {details.vocab_size} ({details.tokenizer_model}, pre={details.tokenizer_pre})",
            f"bos/eos/pad:   {details.bos_id}/{details.eos_id}/{details.pad_id} (add_bos={details.add_bos})",
            f"LOGOS tags:    {tags or 'none'}",
            f"missing tags:  {', '.join(details.tags_missing) or 'none'}",
        ]
    )
    emit(payload, as_json=as_json, text=text)


@model.command("pull")
@click.argument("checkpoint_id")
@click.option("--revision", help="Branch, tag or commit to download (default: main).")
@json_option
def pull(checkpoint_id: str, revision: str | None, as_json: bool) -> None:
    """Download a LOGOS checkpoint (safetensors) into LOGOS_HOME/models/; resumable, hash-checked."""
    from logos_tools.models.download import pull_checkpoint

    registry = _registry()
    known = registry.manifest.checkpoint(checkpoint_id)
    repo_id = known.id if known is not None else checkpoint_id
    report = pull_checkpoint(repo_id, registry.models_dir, revision=revision)
    emit(
        report,
        as_json=as_json,
        text=(
            f"downloaded {report.repo_id} to {report.folder} ({_size(report.total_bytes)}, "
            f"{report.verified_files} files hash-checked)\n"
            f"next: logos model convert {report.folder} {Path(report.folder).name}-f16.gguf"
        ),
    )


@model.command("convert")
@click.argument("hf_dir", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--outtype",
    type=click.Choice(["f32", "f16", "bf16"]),
    default="f16",
    show_default=True,
    help="Float type of the weights in the GGUF; quantize it afterwards with `logos model quantize`.",
)
@click.option(
    "--tag-token-type",
    type=click.Choice(["user_defined", "control"]),
    default="user_defined",
    show_default=True,
    help="Token type of the LOGOS tags; control tags vanish from text served by llama.cpp servers.",
)
@click.option("--demo", "is_demo", is_flag=True, help="Mark the output as the built-in demo model.")
@force_option
@json_option
def convert(
    hf_dir: Path, out: Path, outtype: str, tag_token_type: str, is_demo: bool, force: bool, as_json: bool
) -> None:
    """Convert a Hugging Face LOGOS checkpoint folder to GGUF (streamed tensor by tensor).

    The folder of OUT must exist; an existing OUT is replaced only with --force.
    """
    from logos_tools.models.convert import convert_checkpoint

    settings = Settings.from_env()
    target = check_output_file(out, force=force, what="OUT")
    # The bar opens with the first tensor, so a checkpoint rejected up front prints only its error.
    with contextlib.ExitStack() as stack:
        bar: Any = None
        shown = 0

        def progress(done: int, total: int, _name: str) -> None:
            nonlocal bar, shown
            if bar is None:
                bar = stack.enter_context(
                    click.progressbar(length=100, label="converting", file=sys.stderr, show_eta=True)
                )
            percent = int(100 * done / max(total, 1))
            if percent > shown:
                bar.update(percent - shown)
                shown = percent

        report = convert_checkpoint(
            hf_dir,
            target,
            out_type=outtype,  # type: ignore[arg-type]
            tag_token_type=tag_token_type,  # type: ignore[arg-type]
            is_demo=is_demo,
            progress=progress,
            profile=settings.profile,
        )
    emit(
        report,
        as_json=as_json,
        text=(
            f"wrote {report.output}: {report.architecture}, {report.out_type}, {_size(report.file_size)}, "
            f"{report.parameter_count:,} parameters, pre-tokenizer {report.tokenizer_pre}, "
            f"{len(report.tag_ids)} LOGOS tags ({report.tag_token_type}), {report.elapsed_s:.1f} s"
        ),
    )


@model.command("quantize")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--type", "quant_type", required=True, help="Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0, ...")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: all cores).")
@force_option
@json_option
def quantize(src: Path, dst: Path, quant_type: str, threads: int | None, force: bool, as_json: bool) -> None:
    """Quantize a GGUF with llama.cpp (no progress while it runs; the elapsed time is reported).

    The folder of DST must exist; an existing DST is replaced only with --force.
    """
    from logos_tools.models.gguf_file import inspect_gguf
    from logos_tools.models.quantize import quant_type_id, quantize_gguf

    quant_type_id(quant_type)  # a wrong type or input file is reported before the "please wait" line
    inspect_gguf(src, compute_sha256=False)
    target = check_output_file(dst, force=force, what="DST")
    click.echo(f"quantizing {src} to {quant_type} (llama.cpp reports no progress; please wait)", err=True)
    report = quantize_gguf(src, target, quant_type, nthread=threads)
    emit(
        report,
        as_json=as_json,
        text=(
            f"wrote {report.output}: {report.type}, {_size(report.output_size)} "
            f"({report.ratio:.0%} of {_size(report.source_size)}, {report.bits_per_weight} bits/weight), "
            f"{report.elapsed_s:.1f} s"
        ),
    )


@model.command("verify")
@click.argument("name_or_path")
@click.option(
    "--hf", "hf_dir", type=click.Path(path_type=Path), help="Hugging Face folder it was converted from."
)
@click.option("--no-logits", is_flag=True, help="Skip the logits comparison (no torch needed).")
@json_option
@click.pass_context
def verify(
    ctx: click.Context, name_or_path: str, hf_dir: Path | None, no_logits: bool, as_json: bool
) -> None:
    """Check tags, decoding, and (with --hf) tokenizer and logits parity; exit 1 when a check fails."""
    from logos_tools.models.verify import verify_gguf

    settings = Settings.from_env()
    registry = _registry()
    resolved = registry.resolve(name_or_path)
    if hf_dir is None and resolved.is_demo and registry.manifest.demo_hf_dir.is_dir():
        hf_dir = registry.manifest.demo_hf_dir
    report = verify_gguf(resolved.path, hf_dir, profile=settings.profile, check_logits=not no_logits)
    marks = {True: "PASS", False: "FAIL", None: "SKIP"}
    lines = [f"{resolved.name} ({report.quantization}): {'PASSED' if report.passed else 'FAILED'}"]
    lines += [f"  {marks[c.passed]:<4} {c.name}: {c.detail}" for c in report.checks]
    payload = {"name": resolved.name, "is_demo": resolved.is_demo, **report.model_dump(mode="json")}
    emit(payload, as_json=as_json, text="\n".join(lines))
    if not report.passed:
        ctx.exit(1)
