"""render_text: a complete plain-text account of every tool result (scripted model output, real tasks)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from logos_tools.grammar.pocket import encode_pocket_protein
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.structure import read_structure
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.settings import Settings
from logos_tools.tasks.common import TaskResult
from logos_tools.toolkit import TOOL_NAMES, Toolkit
from logos_tools.toolkit.jobs import JobStatus
from logos_tools.toolkit.rendering import registered_result_types, render_text

FIXTURES = Path(__file__).parents[2] / "grammar" / "fixtures"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def _toolkit(home: Path, script: list[str]) -> Toolkit:
    return Toolkit(Settings(home=home, allowed_roots=(FIXTURES.resolve(),)), backend=ScriptedBackend(script))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_every_tool_result_type_has_its_own_rendering() -> None:
    registered = set(registered_result_types())
    for name in TOOL_NAMES:
        returned = get_type_hints(getattr(Toolkit, name))["return"]
        if inspect.isclass(returned) and issubclass(returned, TaskResult):
            assert set(returned.__mro__) & registered, (
                f"{name} returns {returned.__name__}, rendered as raw JSON"
            )


def test_retrosynthesis_lists_reactant_sets_with_counts_and_the_provenance_footer(
    isolated_home: Path,
) -> None:
    script = [
        "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>O=C(O)c1ccccc1O<MoleculeE>",
        "<MoleculeS>O=C(O)c1ccccc1O<MoleculeE><MoleculeS>CC(=O)O<MoleculeE>",
        "<MoleculeS>C1CC<MoleculeE>",
    ]
    result = _toolkit(isolated_home, script).retrosynthesis(ASPIRIN, num_samples=3, seed=7)
    lines = _lines(render_text(result))
    assert lines[0] == "Retrosynthesis:"
    assert lines[1] == f"Product {ASPIRIN}: 1 distinct reactant sets, validity 67%; most often sampled first."
    assert lines[2].startswith("1. CC(=O)O . O=C(O)c1ccccc1O  (x2, 67%;")
    assert lines[2].endswith("atoms accounted)")
    assert "Samples: 3 done of 3 requested, 2 valid, 1 invalid" in lines[3]
    assert "seed 7 (pass the same seed to repeat this run)" in lines[4]
    assert lines[5].startswith("Invalid samples: 1 (1 x ")
    assert "unclosed ring" in lines[5]
    assert lines[6] == "Model: scripted (fake)."
    assert lines[7] == f"Result id: {result.result_id} (later calls and exports can refer to it)."


def test_molecule_generation_shows_properties_filters_and_rejected_molecules(isolated_home: Path) -> None:
    script = ["CCO<MoleculeE>", "CC(=O)Nc1ccc(O)cc1<MoleculeE>", "c1ccccc1<MoleculeE>"]
    toolkit = _toolkit(isolated_home, script)
    result = toolkit.generate_molecules(num_molecules=1, min_qed=0.45, max_samples=3, seed=1)
    text = render_text(result)
    assert "1 distinct molecules pass the filters (1 asked for)" in text
    assert 'Filters {"min_qed": 0.45}: 1 passed, 2 failed (misses by limit: min_qed 2).' in text
    assert "1. CC(=O)Nc1ccc(O)cc1  (x1, ppl 1.65, QED 0.59, SA 1.4, MW 151, cLogP 1.4" in text
    assert "Valid molecules rejected by the filters:" in text
    assert "misses QED" in text


def test_molecules_beyond_the_number_asked_for_are_counted_apart(isolated_home: Path) -> None:
    # round 1 (two ethanols) passes one molecule; round 2 draws two samples and both pass
    script = ["CCO<MoleculeE>", "CCO<MoleculeE>", "Oc1ccccc1<MoleculeE>", "Cc1ccccc1<MoleculeE>"]
    result = _toolkit(isolated_home, script).generate_molecules(num_molecules=2, max_samples=4, seed=1)
    assert len(result.molecules) == 2
    assert len(result.extra_molecules) == 1
    text = render_text(result)
    assert (
        "2 distinct molecules pass the filters (2 asked for; 1 more passed, listed apart as extra_molecules)"
    ) in text


def test_a_partial_result_names_its_job_and_how_to_fetch_the_rest(isolated_home: Path) -> None:
    result = _toolkit(isolated_home, ["<MoleculeS>CCO<MoleculeE>"]).retrosynthesis(ASPIRIN, num_samples=1)
    result.run.partial, result.run.partial_reason, result.job_id = True, "time budget", "j-0123456789ab"
    assert (
        "PARTIAL result (time budget). The full run continues in the background as job j-0123456789ab: call "
        "get_job with job_id 'j-0123456789ab' to check on it and fetch the complete result."
    ) in render_text(result)


@pytest.mark.parametrize(
    ("tool", "arguments", "script", "expected"),
    [
        (
            "predict_reaction",
            {"reactants": ["CC(=O)O", "OCC"], "num_samples": 2},
            ["<MoleculeS>CCOC(C)=O<MoleculeE>"],
            [
                "Reaction prediction:",
                "Reactants CC(=O)O . CCO: 1 distinct product sets",
                "1. CCOC(C)=O  (x2, 100%;",
            ],
        ),
        (
            "find_binding_sites",
            {"sequence": "MKTAYIAKQR", "num_samples": 2},
            ["MKT<PocketS>A<PocketE>Y<PocketS>I<PocketE>AKQR<ProteinE>"],
            [
                "Binding sites:",
                "Protein of 10 residues: 1 binding sites from 2 valid pocket answers, 1 distinct",
                "Site 1: 2 residues 'AI' at positions 4, 6",
                "Most likely single answer (ppl 1.65; given by 2 of 2 valid samples, 100%): 2 residues 'AI' at "
                "positions 4, 6.",
            ],
        ),
        (
            "design_ligands",
            {
                "pocket_sequence": "MKTAYIAKQR",
                "pocket_positions": [4, 6],
                "num_molecules": 1,
                "max_samples": 2,
            },
            ["CCO<MoleculeE>"],
            [
                "Ligands designed for a pocket:",
                "Pocket from pocket_sequence: 2 residues 'AI' at positions 4, 6",
                "1. CCO  (x1, ppl 1.65, QED 0.41, SA 2.0, MW 46, cLogP 0.0)",
            ],
        ),
        (
            "complete_sequence",
            {"prefix": "MKTAY", "num_samples": 2},
            ["IAKQR<ProteinE>"],
            [
                "Sequence completions:",
                "Protein prefix of 5 residues: 1 distinct completions",
                "1. length 10, x2, best ppl 1.65: MKTAYIAKQR",
            ],
        ),
        (
            "score_protein_variants",
            {"wild_type": "MKTAYIAKQR", "mutations": ["A4G"]},
            [""],
            [
                "Protein variant scores:",
                "Protein wild type of 10 residues (numbering from 1)",
                "1. A4G  (llr ",
                "No sampling: scores",
            ],
        ),
        (
            "score_objects",
            {"objects": [{"kind": "molecule", "value": "CCO"}, {"kind": "protein", "value": "MKT"}]},
            [""],
            ["Object scores:", "2 objects scored", "[molecule #0] CCO  (ppl ", "[protein #1] MKT  (ppl "],
        ),
        (
            "complete_grammar",
            {"prompt": "<MoleculeS>CC", "num_samples": 1, "stop": ["<MoleculeE>"]},
            ["O<MoleculeE>"],
            [
                "Grammar completion:",
                "Prompt '<MoleculeS>CC': 1 samples, 1 decode cleanly (stop <MoleculeE>)",
                "1. [valid; stop <MoleculeE>; ppl ",
            ],
        ),
        (
            "generate_mofs",
            {"num_materials": 1, "max_samples": 2},
            ["<MetalS>[Zn+2]<MetalE><MoleculeS>O=C([O-])c1ccc(C(=O)[O-])cc1<MoleculeE><MaterialE>"],
            ["Generated MOFs:", "1. node [Zn+2] + linkers O=C([O-])c1ccc(C(=O)[O-])cc1  (", "net charge +0"],
        ),
    ],
)
def test_each_tool_result_renders_its_candidates(
    isolated_home: Path, tool: str, arguments: dict[str, Any], script: list[str], expected: list[str]
) -> None:
    result = getattr(_toolkit(isolated_home, script), tool)(**arguments)
    text = render_text(result)
    for words in expected:
        assert words in text, f"{words!r} missing from:\n{text}"
    assert f"Result id: {result.result_id}" in text


def test_binding_sites_print_the_most_likely_answer_in_full_with_residue_numbers(
    isolated_home: Path, profile: Profile
) -> None:
    chain = read_structure(FIXTURES / "structures" / "1hvr.pdb").chain("A")
    marked = list(range(0, 96, 2))  # 48 residues: more than any cut-off a summary line might use
    opened = profile.start("protein")
    many = encode_pocket_protein(chain.sequence, marked, profile).removeprefix(opened)
    few = encode_pocket_protein(chain.sequence, [24, 26], profile).removeprefix(opened)
    toolkit = _toolkit(isolated_home, [many, few, many, many])
    result = toolkit.find_binding_sites(structure_path="structures/1hvr.pdb", chain="A", num_samples=4)
    lines = _lines(render_text(result))
    assert "binding sites from 4 valid pocket answers, 2 distinct" in lines[1]
    (best,) = [line for line in lines if line.startswith("Most likely single answer")]
    positions = ", ".join(str(p + 1) for p in marked)
    numbers = ", ".join(chain.residue_numbers[p] for p in marked)
    assert best.startswith(
        "Most likely single answer (ppl 1.65; given by 3 of 4 valid samples, 75%): 48 residues"
    )
    assert best.endswith(f"at positions {positions}; residue numbers {numbers}.")
    assert "Other distinct answers: 1 (x1); each with its residues in the structured result" in "\n".join(
        lines
    )


def test_a_complete_job_renders_its_result_like_the_tool_itself(isolated_home: Path) -> None:
    result = _toolkit(isolated_home, ["<MoleculeS>CC(=O)O<MoleculeE>"]).retrosynthesis(ASPIRIN, num_samples=1)
    job = JobStatus(
        job_id="j-0123456789ab",
        tool="retrosynthesis",
        status="complete",
        elapsed_s=12.5,
        result_id=result.result_id,
        result=result.model_dump(mode="json"),
    )
    lines = _lines(render_text(job))
    assert lines[:3] == [
        "Job j-0123456789ab (retrosynthesis): complete, 12.5 s elapsed.",
        f"Complete result id: {result.result_id}.",
        "Retrosynthesis:",
    ]
    running = JobStatus(
        job_id="j-0123456789ab",
        tool="retrosynthesis",
        status="running",
        elapsed_s=3,
        message="retrosynthesis: 4/32 samples",
    )
    assert _lines(render_text(running))[1:] == [
        "Progress: retrosynthesis: 4/32 samples.",
        "Call get_job again later with the same job_id (or cancel=true to stop it).",
    ]


def test_the_model_list_names_the_active_model_and_every_known_one(isolated_home: Path) -> None:
    text = render_text(_toolkit(isolated_home, [""]).list_models())
    lines = _lines(text)
    assert lines[0] == "Active model: demo (backend llamacpp). Known models:"
    assert any(line.startswith("- demo: demo, ") for line in lines)
    assert any(
        line.startswith("- LOGOS-pretrain-1B: checkpoint, ") and "Hugging Face LOGOS-Hub" in line
        for line in lines
    )


def test_other_values_render_as_json_or_one_line_per_item() -> None:
    assert render_text({"a": 1}) == '{\n  "a": 1\n}'
    assert render_text([]) == "No entries."
    assert render_text([{"x": 1}]) == '- {"x": 1}'


def test_invalid_sample_reasons_are_quoted_without_a_doubled_period(isolated_home: Path) -> None:
    result = _toolkit(isolated_home, ["<MoleculeS>C1CC<MoleculeE>"]).retrosynthesis(ASPIRIN, num_samples=1)
    line = next(line for line in render_text(result).splitlines() if line.startswith("Invalid samples"))
    assert ".)" not in line
    assert line.endswith(").")
