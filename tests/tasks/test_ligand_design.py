import json
from typing import Any, cast

import pytest

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.shipped import grammar_dir
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.ligand_design import LigandDesignResult, design_ligands
from logos_tools.tasks.properties import MoleculeFilter

FIXTURES = grammar_dir() / "fixtures"
STRUCTURES = FIXTURES / "structures"
HIV_PROTEASE = STRUCTURES / "1hvr.pdb"
PROGESTERONE_RECEPTOR = STRUCTURES / "1a28.pdb"
GOLDEN = [json.loads(line) for line in (FIXTURES / "pockets.jsonl").read_text("utf-8").splitlines()]
XK2_CHAIN_A = next(
    r for r in GOLDEN if r["file"] == "1hvr.pdb" and r["request"] == {"chain": "A", "ligand": "XK2"}
)
STR_CHAIN_A = next(r for r in GOLDEN if r["file"] == "1a28.pdb" and r["request"].get("ligand_chain") == "A")
ETHANOL = "CCO<MoleculeE>"
PHENOL = "Oc1ccccc1<MoleculeE>"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O<MoleculeE>"


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_prompt_is_the_pocket_marked_chain_then_the_molecule_start_tag(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL, PHENOL, IBUPROFEN])
    result = design_ligands(
        context(backend, profile),
        structure=HIV_PROTEASE,
        ligand="XK2",
        num_molecules=3,
        sampling=SamplingOptions(seed=4),
    )
    (request,) = backend.history
    assert request.prompt == XK2_CHAIN_A["marked"] + "<MoleculeS>"
    assert request.prompt.startswith("<ProteinS>PQVTLWQ<PocketS>R<PocketE>PLVTIKIGG")
    assert request.stop == ("<MoleculeE>", "eos")
    assert (request.n, request.max_new_tokens, request.grammar) == (3, 160, None)
    assert (request.sampling.temperature, request.sampling.top_p, request.sampling.seed) == (1.2, 0.85, 4)
    assert result.prompt_variant == "letter"
    assert result.pocket.source == "ligand"
    assert result.pocket.ligand == "XK2 A 263"
    assert result.pocket.chain == "A"
    assert result.pocket.positions == [p + 1 for p in XK2_CHAIN_A["positions"]]
    assert result.pocket.residue_numbers == XK2_CHAIN_A["residue_numbers"]
    assert result.pocket.pocket == "".join(XK2_CHAIN_A["sequence"][p] for p in XK2_CHAIN_A["positions"])
    assert result.pocket.cutoff_angstrom == 6.0


def test_the_plain_variant_writes_the_chain_without_marks(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    design_ligands(
        context(backend, profile), structure=HIV_PROTEASE, ligand="XK2", num_molecules=1, variant="plain"
    )
    assert backend.history[0].prompt == f"<ProteinS>{XK2_CHAIN_A['sequence']}<ProteinE><MoleculeS>"


def test_a_marked_pocket_sequence_gives_the_same_prompt_as_the_structure(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    result = design_ligands(context(backend, profile), pocket_sequence=XK2_CHAIN_A["marked"], num_molecules=1)
    assert backend.history[0].prompt == XK2_CHAIN_A["marked"] + "<MoleculeS>"
    assert result.pocket.source == "pocket_sequence"
    assert result.pocket.residue_numbers is None


def test_a_plain_sequence_takes_one_based_pocket_positions(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    result = design_ligands(
        context(backend, profile), pocket_sequence="MKTAYIAK", pocket_positions=[1, 4], num_molecules=1
    )
    assert backend.history[0].prompt == (
        "<ProteinS><PocketS>M<PocketE>KT<PocketS>A<PocketE>YIAK<ProteinE><MoleculeS>"
    )
    assert (result.pocket.positions, result.pocket.pocket) == ([1, 4], "MA")


def test_residue_numbers_of_a_chain_define_the_pocket(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    numbers = [str(n) for n in STR_CHAIN_A["residue_numbers"]]
    result = design_ligands(
        context(backend, profile),
        structure=PROGESTERONE_RECEPTOR,
        chain="A",
        residues=numbers,
        num_molecules=1,
    )
    assert backend.history[0].prompt == STR_CHAIN_A["marked"] + "<MoleculeS>"
    assert result.pocket.source == "residues"
    assert result.pocket.residue_numbers == numbers
    assert result.pocket.ligand is None


def test_samples_are_decoded_deduplicated_and_invalid_ones_kept_with_reasons(profile: Profile) -> None:
    script = [ETHANOL, "OCC<MoleculeE>", PHENOL, "C1CC<MoleculeE>", "CCN", "CC<ProteinE>C<MoleculeE>"]
    backend = ScriptedBackend(script)
    result = design_ligands(
        context(backend, profile), structure=HIV_PROTEASE, ligand="XK2", num_molecules=6, max_samples=6
    )
    assert result.run.samples_drawn == 6
    assert (result.run.valid, result.run.invalid) == (3, 3)
    assert result.validity == 0.5
    assert result.uniqueness == pytest.approx(0.6667)
    counts = {m.smiles: m.count for m in result.molecules}
    assert counts == {"CCO": 2, "Oc1ccccc1": 1}
    reasons = {sample.index: sample.reason for sample in result.invalid_samples}
    assert sorted(reasons) == [3, 4, 5]
    assert "unclosed ring" in reasons[3].lower()
    assert "without closing the molecule block" in reasons[4]
    assert "<ProteinE>" in reasons[5]
    assert result.run.partial is True
    assert "2 of 6 molecules" in (result.run.partial_reason or "")


def test_molecules_carry_their_properties(profile: Profile) -> None:
    backend = ScriptedBackend([IBUPROFEN])
    result = design_ligands(context(backend, profile), structure=HIV_PROTEASE, ligand="XK2", num_molecules=1)
    (ibuprofen,) = result.molecules
    props = ibuprofen.properties
    assert ibuprofen.smiles == props.canonical_smiles == "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    assert props.mw == pytest.approx(206.285, abs=1e-3)
    assert props.qed == pytest.approx(0.8216, abs=1e-4)
    assert (props.hbd, props.hba, props.lipinski_pass) == (1, 1, True)
    assert 1 <= props.sa_score <= 10
    assert props.pains_alerts == []


def test_filters_oversample_until_enough_molecules_pass(profile: Profile) -> None:
    # ethanol fails min_qed 0.5 (QED 0.41); phenol (0.51) and ibuprofen (0.82) pass
    backend = ScriptedBackend([ETHANOL, ETHANOL, PHENOL, ETHANOL, IBUPROFEN])
    result = design_ligands(
        context(backend, profile),
        structure=HIV_PROTEASE,
        ligand="XK2",
        num_molecules=2,
        filters={"min_qed": 0.5},
        sampling=SamplingOptions(seed=9),
    )
    # round 1: two ethanols, no molecule passes -> yield (0 + 1) / (2 + 1) -> 2 missing x 3 = 6 samples
    assert [request.n for request in backend.history] == [2, 6]
    assert [request.sampling.seed for request in backend.history] == [9, 10]
    assert result.rounds == 2
    assert sorted(m.smiles for m in result.molecules) == ["CC(C)Cc1ccc(C(C)C(=O)O)cc1", "Oc1ccccc1"]
    assert [m.smiles for m in result.rejected_molecules] == ["CCO"]
    assert result.rejected_molecules[0].count == 5
    assert result.filter_report.failures_by_limit == {"min_qed": 1}
    assert result.filter_report.filters == MoleculeFilter(min_qed=0.5)
    assert result.run.partial is False


def test_only_the_molecules_asked_for_are_listed_and_the_extra_ones_are_kept_apart(profile: Profile) -> None:
    # round 1 (two ethanols) passes one molecule; round 2 draws two samples and both pass
    backend = ScriptedBackend([ETHANOL, ETHANOL, PHENOL, IBUPROFEN])
    result = design_ligands(context(backend, profile), structure=HIV_PROTEASE, ligand="XK2", num_molecules=2)
    assert [request.n for request in backend.history] == [2, 2]
    assert [m.smiles for m in result.molecules] == ["CCO", "Oc1ccccc1"]
    assert [(m.rank, m.smiles) for m in result.extra_molecules] == [(3, "CC(C)Cc1ccc(C(C)C(=O)O)cc1")]
    assert result.filter_report.passed == 3
    assert (result.run.samples_drawn, result.run.valid, result.run.invalid) == (4, 4, 0)
    assert result.run.partial is False


def test_novelty_needs_a_reference_smiles_because_pdb_files_have_no_bond_orders(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL, PHENOL])
    without = design_ligands(context(backend, profile), structure=HIV_PROTEASE, ligand="XK2", num_molecules=2)
    assert without.novelty is None
    assert without.reference_ligand is None
    assert "no bond orders for ligand XK2 A 263" in without.novelty_reference
    assert all(m.novel is None for m in without.molecules)
    with_reference = design_ligands(
        context(ScriptedBackend([ETHANOL, PHENOL]), profile),
        structure=HIV_PROTEASE,
        ligand="XK2",
        num_molecules=2,
        reference_smiles="OCC",
    )
    assert with_reference.reference_ligand == "CCO"
    assert with_reference.novelty == 0.5
    assert {m.smiles: m.novel for m in with_reference.molecules} == {"CCO": False, "Oc1ccccc1": True}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Give exactly one pocket input"),
        ({"structure": HIV_PROTEASE, "pocket_sequence": "MKT"}, "got both"),
        ({"structure": HIV_PROTEASE}, "give exactly one of `ligand`"),
        ({"structure": HIV_PROTEASE, "ligand": "XK2", "residues": ["25"]}, "got both"),
        ({"structure": PROGESTERONE_RECEPTOR, "ligand": "STR"}, "ambiguous"),
        ({"structure": HIV_PROTEASE, "ligand": "ATP"}, "no ligand named 'ATP'"),
        ({"structure": HIV_PROTEASE, "residues": ["25"]}, "several protein chains"),
        ({"structure": HIV_PROTEASE, "chain": "A", "residues": ["25", "25"]}, "given twice"),
        (
            {"structure": HIV_PROTEASE, "chain": "A", "residues": ["500"]},
            "no amino-acid residue numbered '500'",
        ),
        (
            {"structure": HIV_PROTEASE, "ligand": "XK2", "pocket_positions": [1]},
            "only apply to a `pocket_sequence`",
        ),
        ({"pocket_sequence": "MKTAYIAK", "ligand": "XK2"}, "only apply to a `structure`"),
        ({"pocket_sequence": "MKTAYIAK"}, "the pocket has no residue"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [0]}, "Pass 1-based positions from 1 to 8"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [2, 2]}, "given twice"),
        ({"pocket_sequence": "<ProteinS>MK<PocketS>TA<PocketE><ProteinE>"}, "not a pocket-marked protein"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [1], "num_molecules": 0}, "num_molecules=0"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [1], "max_samples": 0}, "max_samples=0"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [1], "filters": {"min_qde": 1}}, "min_qde"),
        ({"pocket_sequence": "MKTAYIAK", "pocket_positions": [1], "variant": "fancy"}, "variant='fancy'"),
    ],
)
def test_bad_inputs_raise_input_errors_that_name_the_fix(
    profile: Profile, kwargs: dict[str, Any], message: str
) -> None:
    backend = ScriptedBackend([ETHANOL])
    with pytest.raises(InputError, match=message):
        design_ligands(context(backend, profile), **kwargs)
    assert backend.history == []


def test_an_invalid_reference_smiles_is_an_encode_error(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="reference_smiles 'C1CC' is invalid"):
        design_ligands(
            context(ScriptedBackend([ETHANOL]), profile),
            pocket_sequence="MKTAYIAK",
            pocket_positions=[1],
            reference_smiles="C1CC",
        )


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    result = design_ligands(
        context(backend, profile, budget=0.0), structure=HIV_PROTEASE, ligand="XK2", num_molecules=3
    )
    assert backend.history == []
    assert result.run.partial is True
    assert (result.run.partial_reason or "").startswith("time budget ended with 0 of 3 molecules")
    assert result.molecules == []
    assert result.run.samples_drawn == 0
    assert LigandDesignResult.model_validate_json(result.model_dump_json()) == result


def test_demo_model_molecules_are_all_accounted_for_and_seeds_repeat(
    demo_backend: object, profile: Profile
) -> None:
    backend = cast(Backend, demo_backend)

    def run() -> LigandDesignResult:
        return design_ligands(
            context(backend, profile, budget=None),
            structure=HIV_PROTEASE,
            ligand="XK2",
            num_molecules=4,
            max_samples=12,
            sampling=SamplingOptions(seed=21),
        )

    first, second = run(), run()
    assert first.model.is_demo is True
    drawn = first.run.samples_drawn
    assert 4 <= drawn <= 12
    assert first.run.valid + first.run.invalid == drawn
    assert len(first.invalid_samples) == first.run.invalid
    listed = first.molecules + first.extra_molecules + first.rejected_molecules
    assert sum(m.count for m in listed) == first.run.valid
    assert len(first.molecules) == 4 or first.run.partial
    assert all(sample.reason for sample in first.invalid_samples)
    assert [m.smiles for m in first.molecules] == [m.smiles for m in second.molecules]
    assert [s.text for s in first.invalid_samples] == [s.text for s in second.invalid_samples]
