"""``logos demo``: the main job end to end on the built-in demo model, in under a minute on a laptop.

A design loop as an agent would run it through the tools: find the pocket of HIV-1 protease (PDB
1HVR, shipped), design drug-like ligands for it, plan a retrosynthesis of the most drug-like one, and generate a
few MOFs. Every result is stored; the ids are printed so they can be exported afterwards.
"""

from __future__ import annotations

import dataclasses
import time

import click

from logos_tools.settings import Settings
from logos_tools.shipped import grammar_dir

STRUCTURE = "1hvr.pdb"


def _section(title: str) -> None:
    click.echo("\n" + click.style(f"== {title} ", bold=True) + "=" * max(0, 70 - len(title)))


@click.command("demo")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed for every step (repeatable runs).")
def demo(seed: int) -> None:
    """Run a pocket -> ligands -> retrosynthesis -> MOF design loop on the demo model."""
    from logos_tools.toolkit import Toolkit
    from logos_tools.toolkit.rendering import render_text

    structures = (grammar_dir() / "fixtures" / "structures").resolve()
    settings = Settings.from_env()
    settings = dataclasses.replace(settings, allowed_roots=(*settings.effective_allowed_roots(), structures))
    toolkit = Toolkit(settings)
    started = time.perf_counter()
    click.echo(f"logos demo: model {settings.model!r} ({settings.backend}); structures from {structures}")

    _section("1. Binding sites of HIV-1 protease (1HVR chain A)")
    sites = toolkit.find_binding_sites(
        structure_path=str(structures / STRUCTURE), chain="A", num_samples=8, seed=seed
    )
    click.echo(render_text(sites))

    _section("2. Drug-like ligands for the inhibitor pocket (ligand XK2)")
    ligands = toolkit.design_ligands(
        structure_path=str(structures / STRUCTURE),
        ligand="XK2",
        chain="A",
        num_molecules=5,
        # Drug-like: Lipinski's rule of five, QED of at least 0.5, no PAINS alert; the tiny demo
        # model writes about one valid molecule in three, hence the sample budget.
        lipinski=True,
        min_qed=0.5,
        no_pains=True,
        max_samples=60,
        seed=seed,
    )
    click.echo(render_text(ligands))

    if ligands.molecules:
        # The model ranks by perplexity, which favours small molecules; a chemist picks the most
        # drug-like of those that passed the filters.
        best = max(ligands.molecules, key=lambda molecule: molecule.properties.qed)
        _section(
            f"3. Retrosynthesis of the most drug-like ligand {best.smiles} (QED {best.properties.qed:.2f})"
        )
        click.echo(render_text(toolkit.retrosynthesis(best.smiles, num_samples=8, seed=seed)))

    _section("4. Metal-organic frameworks")
    click.echo(render_text(toolkit.generate_mofs(num_materials=3, seed=seed)))

    _section("Next")
    click.echo(
        f"Done in {time.perf_counter() - started:.1f} s. Results are stored in {settings.store_path}:\n"
        "  logos results list            # ids of everything above\n"
        "  logos results export ID --out ligands.sdf\n"
        "Serve the same tools to Claude or any MCP host:\n"
        "  claude mcp add logos -- logos-mcp\n"
        "Use a real LOGOS model: logos model convert HF_DIR out.gguf, then LOGOS_MODEL=out.gguf."
    )
