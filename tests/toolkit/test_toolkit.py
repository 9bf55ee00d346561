"""The toolkit: one definition per tool, validated arguments, stored results, jobs, path confinement."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from logos_tools.errors import InputError, PathNotAllowedError, ResultNotFoundError
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.runtime.llamacpp import LlamaCppBackend
from logos_tools.settings import Settings
from logos_tools.toolkit import TOOL_NAMES, Toolkit

FIXTURES = Path(__file__).parents[2] / "grammar" / "fixtures"
ASPIRIN_RETRO = "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>O=C(O)c1ccccc1O<MoleculeE>"


def _toolkit(home: Path, backend: object, **settings: object) -> Toolkit:
    return Toolkit(Settings(home=home, allowed_roots=(FIXTURES.resolve(),), **settings), backend=backend)  # type: ignore[arg-type]


def test_every_tool_name_is_a_documented_typed_method(isolated_home: Path) -> None:
    toolkit = _toolkit(isolated_home, ScriptedBackend([ASPIRIN_RETRO]))
    assert [t.__name__ for t in toolkit.tools()] == list(TOOL_NAMES)
    for method in toolkit.tools():
        doc = inspect.getdoc(method) or ""
        assert doc.splitlines()[0].endswith("."), method.__name__
        assert inspect.signature(method).return_annotation is not inspect.Signature.empty


def test_bad_arguments_are_input_errors_that_name_the_argument(isolated_home: Path) -> None:
    toolkit = _toolkit(isolated_home, ScriptedBackend([ASPIRIN_RETRO]))
    with pytest.raises(InputError, match=r"num_samples=0: Input should be greater than or equal to 1"):
        toolkit.retrosynthesis("CCO", num_samples=0)
    with pytest.raises(InputError, match="unclosed ring"):
        toolkit.retrosynthesis("C1CC")
    with pytest.raises(InputError, match=r"min_consensus=0: Input should be greater than 0"):
        toolkit.find_binding_sites(sequence="ACDEFGHIKLMNPQRSTVWY", min_consensus=0)


def test_design_ligands_takes_residue_numbers_as_integers_or_text_with_insertion_codes(
    isolated_home: Path,
) -> None:
    toolkit = _toolkit(isolated_home, ScriptedBackend(["CCO<MoleculeE>"]))
    result = toolkit.design_ligands(
        structure_path="structures/3PWP.cif",
        chain="E",
        residues=[115, "116A", 116, 117],
        num_molecules=1,
        max_samples=1,
        seed=1,
    )
    assert result.pocket.source == "residues"
    assert result.pocket.residue_numbers == ["115", "116", "116A", "117"]
    with pytest.raises(
        InputError,
        match=r"residues\.0=True: Input should be a residue number such as 25 or '100A', not true or false",
    ):
        toolkit.design_ligands(structure_path="structures/3PWP.cif", chain="E", residues=[True])
    with pytest.raises(
        InputError, match=r"residues\.0=25\.5: Input should be a residue number .* not a number with"
    ):
        toolkit.design_ligands(structure_path="structures/3PWP.cif", chain="E", residues=[25.5])  # type: ignore[list-item]


def test_structure_paths_outside_the_allowed_roots_are_refused(isolated_home: Path, tmp_path: Path) -> None:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    secret = outside / "secret.pdb"
    secret.write_text("HEADER\n", encoding="utf-8")
    (inside / "link.pdb").symlink_to(secret)
    toolkit = Toolkit(Settings(home=isolated_home, allowed_roots=(inside,)), backend=ScriptedBackend([""]))
    with pytest.raises(PathNotAllowedError, match="LOGOS_ALLOWED_ROOTS"):
        toolkit.design_ligands(structure_path=str(secret), ligand="XK2")
    with pytest.raises(PathNotAllowedError, match="outside the folders"):
        toolkit.design_ligands(structure_path="link.pdb", ligand="XK2")


def test_results_are_stored_and_readable_by_id_from_a_new_process(isolated_home: Path) -> None:
    toolkit = _toolkit(isolated_home, ScriptedBackend([ASPIRIN_RETRO]))
    result = toolkit.retrosynthesis("CC(=O)Oc1ccccc1C(=O)O", num_samples=2, seed=4)
    assert result.result_id is not None
    code = (
        "from logos_tools.store.results import ResultStore\n"
        f"stored = ResultStore({str(isolated_home / 'results.sqlite3')!r}).get({result.result_id!r})\n"
        "print(stored.tool, stored.parameters['seed'], stored.outputs['candidates'][0]['reactants'][0]['smiles'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["retrosynthesis", "4", "CC(=O)O"]


def test_a_call_that_outgrows_its_budget_returns_partial_results_and_a_job_that_finishes_it(
    isolated_home: Path, demo_backend: LlamaCppBackend
) -> None:
    toolkit = _toolkit(isolated_home, demo_backend)
    partial = toolkit.generate_molecules(num_molecules=300, max_samples=3000, seed=2, time_budget_s=1.0)
    unseeded = toolkit.generate_molecules(num_molecules=300, max_samples=3000, time_budget_s=1.0)
    assert unseeded.sampling.seed is not None  # a concrete seed is chosen, so its job repeats the call
    if unseeded.job_id:
        toolkit.get_job(unseeded.job_id, cancel=True)
    if not partial.run.partial:
        pytest.fail("the demo model found 300 molecules within 1 s; raise num_molecules to test the budget")
    assert partial.run.budget_hit == "time"
    assert partial.job_id is not None
    status = toolkit.jobs.wait(partial.job_id, timeout_s=300)
    assert status.status == "complete"
    assert status.result is not None
    assert status.result["run"]["partial"] is False
    assert status.result["sampling"]["seed"] == partial.sampling.seed == 2
    assert toolkit.store.get(status.result_id or "").parent_id == partial.result_id
    assert status.partial_result_id == partial.result_id
    with pytest.raises(ResultNotFoundError):
        toolkit.get_job("j-000000000000")


def test_list_models_shows_the_demo_and_the_known_checkpoints(isolated_home: Path) -> None:
    listing = _toolkit(isolated_home, ScriptedBackend([""])).list_models()
    names = [m.name for m in listing.models]
    assert listing.active == "demo"
    assert "demo" in names
    assert any("LOGOS" in name for name in names)
