"""``logos results``: list, show, export and delete the results recorded by tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import click

from logos_tools.cli.files import check_output_file, force_option
from logos_tools.cli.output import emit, json_option
from logos_tools.errors import InputError
from logos_tools.store.exports import EXPORT_FORMATS, export_result, format_from_path
from logos_tools.store.results import ResultStore, StoredResult


def _store() -> ResultStore:
    return ResultStore.from_settings()


@click.group()
def results() -> None:
    """Stored results of tool calls: list, show, export (SDF, CSV, FASTA, JSONL, PNG) and delete.

    \b
    Examples:
      logos results list --tool design_ligands --limit 5
      logos results show r-3f9a0c12ab45 --json
      logos results export r-3f9a0c12ab45 --format sdf --out ligands.sdf
      logos results export r-3f9a0c12ab45 --out grid.png --legend qed
    """


@results.command("list")
@click.option("--tool", default=None, help="Only results of this tool, e.g. design_ligands.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many.")
@json_option
def list_results(tool: str | None, limit: int, as_json: bool) -> None:
    """List the most recent stored results first."""
    summaries = _store().list(limit=limit, tool=tool)
    if not summaries:
        where = f" of tool {tool!r}" if tool else ""
        text = f"No stored results{where} yet. Every tool call records one; its id is in the tool's answer."
    else:
        lines = [f"{'ID':<15} {'CREATED (UTC)':<20} {'STATUS':<9} {'TOOL':<24} MODEL"]
        for item in summaries:
            created = item.created_at.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(
                f"{item.id:<15} {created:<20} {item.status:<9} {item.tool:<24} {item.model_name or '-'}"
            )
        text = "\n".join(lines)
    emit([item.model_dump(mode="json") for item in summaries], as_json=as_json, text=text)


def _describe(result: StoredResult) -> str:
    model = result.model
    demo = " (demo model)" if model.get("is_demo") else ""
    lines = [
        f"id:         {result.id}",
        f"tool:       {result.tool}",
        f"status:     {result.status}",
        f"created:    {result.created_at.isoformat()}",
        f"model:      {model.get('name', '-')}{demo}",
    ]
    if result.parent_id:
        lines.append(f"parent:     {result.parent_id}")
    if result.error:
        lines.append(f"error:      {result.error}")
    for label, value in (
        ("inputs", result.inputs),
        ("parameters", result.parameters),
        ("timings", result.timings),
        ("outputs", result.outputs),
    ):
        lines.append(f"{label}:")
        lines.append(json.dumps(value, indent=2, ensure_ascii=False))
    return "\n".join(lines)


@results.command("show")
@click.argument("result_id")
@json_option
def show_result(result_id: str, as_json: bool) -> None:
    """Show one stored result: inputs, model, parameters, timings and outputs."""
    result = _store().get(result_id)
    emit(result, as_json=as_json, text=_describe(result))


@results.command("export")
@click.argument("result_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS, case_sensitive=False),
    default=None,
    help="File format; by default taken from the --out suffix.",
)
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option("--legend", default=None, help="PNG only: the field shown under each molecule, e.g. qed.")
@force_option
@json_option
def export(
    result_id: str, fmt: str | None, out: Path, legend: str | None, force: bool, as_json: bool
) -> None:
    """Write a stored result's molecules (sdf, csv, png), sequences (fasta) or all of it (jsonl).

    The folder of --out must exist; an existing file is replaced only with --force.
    """
    chosen = (fmt or format_from_path(out)).lower()
    if legend is not None and chosen != "png":
        raise InputError(
            f"--legend {legend!r} only applies to PNG grids, and this export is {chosen}. "
            "Drop --legend, or export to a .png file."
        )
    store = _store()
    store.get(result_id)  # an unknown id is the first thing to report, before any file question
    target = check_output_file(out, force=force)
    report = export_result(store, result_id, chosen, target, legend=legend)
    text = f"wrote {report.written} of {report.records} records to {report.path} ({report.format})"
    if report.invalid:
        kept = " (kept in the file with an empty canonical_smiles)" if report.format == "csv" else ""
        text += f"\n{len(report.invalid)} invalid{kept}:"
        text += "".join(f"\n  #{item.index} {item.value!r}: {item.reason}" for item in report.invalid[:20])
        if len(report.invalid) > 20:
            text += f"\n  ... and {len(report.invalid) - 20} more (see --json)"
    if report.truncated:
        text += f"\n{report.truncated} more valid molecules were left out of the grid (limit reached)"
    emit(report, as_json=as_json, text=text)


@results.command("delete")
@click.argument("result_id")
def delete(result_id: str) -> None:
    """Delete one stored result."""
    _store().delete(result_id)
    click.echo(f"deleted {result_id.strip()}")
