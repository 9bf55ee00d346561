"""``logos doctor``: what this installation can run, and how to build llama.cpp for a GPU."""

from __future__ import annotations

import click

from logos_tools.cli.output import emit, json_option
from logos_tools.runtime.diagnostics import Diagnosis, diagnose
from logos_tools.settings import Settings


def _render(report: Diagnosis) -> str:
    llama = report.llama
    lines = [
        f"Python {report.python} on {report.platform}",
        f"llama-cpp-python: {llama.version or 'not installed'}",
        f"  CPU features: {', '.join(llama.cpu_features) or 'unknown'}",
        f"  Build features: {', '.join(llama.build_features) or '-'}",
        f"  AMX CPU: {'yes' if llama.cpu_has_amx else 'no'}   GPU offload: {'yes' if llama.gpu_offload else 'no'}",
        "Libraries:",
        *(f"  {name}: {version or '-'}" for name, version in report.libraries.items()),
        "Build llama.cpp for a GPU:",
        *(f"  {target}: {command}" for target, command in report.build_hints.items()),
    ]
    if report.models:
        lines.append("Models:")
        lines.extend(f"  {m['name']}: {m['status']} {m.get('path') or ''}".rstrip() for m in report.models)
    lines.extend(f"Note: {note}" for note in report.notes)
    return "\n".join(lines)


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Report the llama.cpp build (CPU features, AMX, GPU offload), library versions and models."""
    report = diagnose(Settings.from_env())
    emit(report, as_json=as_json, text=_render(report))
