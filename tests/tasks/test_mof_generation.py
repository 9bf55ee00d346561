import pytest
from rdkit import Chem

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.mof_generation import generate_mofs

ZN4O = "[Zn][O]([Zn])([Zn])[Zn]"
MOF5 = f"<MetalS>{ZN4O}<MetalE><MoleculeS>OC(=O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"
MOF5_AGAIN = f"<MetalS>{ZN4O}<MetalE><MoleculeS>O=C(O)c1ccc(cc1)C(=O)O<MoleculeE><MaterialE>"
HKUST = "<MetalS>[Cu][Cu]<MetalE><MoleculeS>OC(=O)c1cc(C(=O)O)cc(C(=O)O)c1<MoleculeE><MaterialE>"
CU_BDC = "<MetalS>[Cu][Cu]<MetalE><MoleculeS>OC(=O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"
NO_METAL = "<MetalS>CC<MetalE><MoleculeS>CCO<MoleculeE><MaterialE>"
NO_LINKER = "<MetalS>[Zn]<MetalE><MaterialE>"
TRUNCATED = "<MetalS>[Zn]<MetalE><MoleculeS>CC"


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_unconditional_prompt_stop_and_token_limit_follow_the_profile(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5])
    result = generate_mofs(context(backend, profile), num_materials=1, sampling=SamplingOptions(seed=3))
    (request,) = backend.history
    assert request.prompt == "<MaterialS>"
    assert request.stop == ("<MaterialE>", "eos")
    assert request.max_new_tokens == 320
    assert request.n == 1
    assert (request.sampling.temperature, request.sampling.top_p, request.sampling.seed) == (1.2, 0.85, 3)
    assert result.metal_node is None


def test_a_metal_node_conditions_the_prompt_as_a_metal_block(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>OC(=O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"])
    result = generate_mofs(context(backend, profile), num_materials=1, metal_node=f" {ZN4O} ")
    assert backend.history[0].prompt == f"<MaterialS><MetalS>{ZN4O}<MetalE>"
    assert result.metal_node == ZN4O
    assert result.unique_count == 1
    assert result.materials[0].node_smiles == ZN4O


def test_materials_are_decoded_checked_and_counted_valid_unique_and_novel(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5, MOF5_AGAIN, HKUST, NO_METAL, NO_LINKER, TRUNCATED])
    result = generate_mofs(
        context(backend, profile),
        num_materials=3,
        max_samples=6,
        reference=[f"<MaterialS>{MOF5}"],
    )
    assert result.run.samples_drawn == 6
    assert (result.valid_count, result.unique_count, result.novel_count) == (3, 2, 1)
    assert (result.run.valid, result.run.invalid) == (3, 3)
    assert result.validity == 0.5
    assert result.target_reached is False
    assert result.run.partial is True
    assert "sample budget" in (result.run.partial_reason or "")
    mof5, hkust, bad = result.materials
    assert (mof5.rank, mof5.count, mof5.sample_indices) == (1, 2, [0, 1])
    assert mof5.linker_smiles == ["O=C(O)c1ccc(C(=O)O)cc1"]
    assert (mof5.formula, mof5.reduced_formula) == ("Zn4 H6 C8 O5", "Zn4H6C8O5")
    assert mof5.text == f"<MaterialS>{MOF5}"
    assert (mof5.valid, mof5.novel, mof5.embedded_3d, mof5.problems) == (True, False, True, [])
    assert (mof5.charge.node, mof5.charge.linkers, mof5.charge.net) == (6, [-2], 4)
    assert (mof5.charge.neutral_nodes, mof5.charge.neutral_linker_sets) == (1, 3)
    assert {c.name for c in mof5.checks} >= {"node_has_metal", "charge_balance", "linker_1_organic"}
    assert (hkust.node_smiles, hkust.novel, hkust.embedded_3d) == ("[Cu][Cu]", True, True)
    assert (bad.valid, bad.embedded_3d, bad.novel) == (False, None, True)
    assert bad.problems[0].startswith("node_has_metal")
    reasons = {s.index: s.reason for s in result.invalid_samples}
    assert sorted(reasons) == [3, 4, 5]
    assert reasons[3].startswith("node_has_metal")
    assert "one metal block first" in reasons[4]
    # The model ended the text itself (end of generation), so no token limit truncated it.
    assert reasons[5] == "the model ended the text without closing the material block with <MaterialE>"


def test_drawing_goes_on_in_rounds_until_enough_distinct_valid_materials(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5, MOF5_AGAIN, HKUST, NO_METAL, NO_LINKER])
    result = generate_mofs(context(backend, profile), num_materials=2, sampling=SamplingOptions(seed=40))
    assert [r.n for r in backend.history] == [2, 3]  # the second round sized from the first's yield
    assert [r.sampling.seed for r in backend.history] == [40, 41]
    assert result.target_reached is True
    assert result.run.partial is False
    assert result.unique_count == 2
    assert result.novel_count is None
    assert all(m.novel is None for m in result.materials)
    assert result.run.samples_requested == 5


def test_valid_materials_beyond_the_count_asked_for_are_kept_apart_as_extra(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5, MOF5_AGAIN, HKUST, CU_BDC, NO_METAL])
    result = generate_mofs(context(backend, profile), num_materials=2)
    # round 1 finds one material in two samples; round 2 draws three and two of them are valid
    assert [r.n for r in backend.history] == [2, 3]
    assert [(m.rank, m.node_smiles, m.valid) for m in result.materials] == [
        (1, ZN4O, True),
        (2, "[Cu][Cu]", True),
        (4, "CC", False),
    ]
    (extra,) = result.extra_materials
    assert (extra.rank, extra.valid, extra.sample_indices) == (3, True, [3])
    assert extra.linker_smiles == ["O=C(O)c1ccc(C(=O)O)cc1"]
    assert extra.embedded_3d is None
    assert extra.embedding_notes == ["not attempted: an extra material, beyond the num_materials asked for"]
    assert (result.unique_count, result.valid_count, result.target_reached) == (3, 4, True)
    assert (result.run.samples_drawn, result.run.valid, result.run.invalid) == (5, 4, 1)
    assert result.run.partial is False


def test_reference_pairs_define_novelty_like_material_strings(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5, HKUST])
    result = generate_mofs(
        context(backend, profile),
        num_materials=2,
        reference=[(ZN4O, ["O=C(O)c1ccc(C(=O)O)cc1"]), ("[Cu][Cu]", ["OC(=O)c1ccccc1"])],
    )
    assert result.novel_count == 1
    assert [m.novel for m in result.materials] == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"metal_node": "CCO"}, EncodeError, "has no metal atom"),
        ({"metal_node": "[Zn]<MetalE>"}, EncodeError, "must not contain LOGOS tags"),
        ({"metal_node": "[Zn](("}, EncodeError, "is invalid"),
        ({"num_materials": 0}, InputError, "num_materials=0 is out of range"),
        ({"num_materials": 5, "max_samples": 4}, InputError, "max_samples=4 is out of range"),
        ({"reference": [f"<MaterialS>{MOF5}", "not a material"]}, InputError, r"reference\[1\]"),
        ({"reference": [("[Zn]", "CCO")]}, InputError, r"reference\[0\].*non-empty list"),
    ],
)
def test_bad_inputs_fail_before_any_model_call(
    profile: Profile, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    backend = ScriptedBackend([MOF5])
    with pytest.raises(error, match=message):
        generate_mofs(context(backend, profile), **kwargs)  # type: ignore[arg-type]
    assert backend.history == []


def test_the_demo_model_lists_exactly_the_materials_asked_for(
    demo_backend: Backend, profile: Profile
) -> None:
    # the audit's case: this run's last round gave three distinct valid materials for two asked for
    result = generate_mofs(
        context(demo_backend, profile, budget=None), num_materials=2, sampling=SamplingOptions(seed=1)
    )
    assert result.target_reached is True
    assert sum(1 for m in result.materials if m.valid) == 2
    assert result.unique_count == 2 + len(result.extra_materials)
    assert sum(m.count for m in result.materials + result.extra_materials if m.valid) == result.valid_count


@pytest.mark.parametrize(
    "entry",
    ["", "not a material", ("[Zn", ["CCO"]), ("[Zn]", ["C1CC"]), ("[Zn]", [""])],
)
def test_an_unusable_reference_quotes_its_reason_without_a_doubled_period(
    profile: Profile, entry: object
) -> None:
    with pytest.raises(InputError, match=r"reference\[0\]") as caught:
        generate_mofs(context(ScriptedBackend([MOF5]), profile), reference=[entry])  # type: ignore[list-item]
    message = str(caught.value)
    assert ".." not in message
    assert ". Pass material grammar text" in message


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend([MOF5])
    result = generate_mofs(context(backend, profile, budget=0.0), num_materials=2)
    assert result.run.partial is True
    assert "time budget" in (result.run.partial_reason or "")
    assert (result.materials, result.valid_count, result.unique_count) == ([], 0, 0)
    assert backend.history == []


def test_the_demo_model_generates_materials_with_complete_accounting(
    demo_backend: Backend, profile: Profile
) -> None:
    result = generate_mofs(
        context(demo_backend, profile, budget=None),
        num_materials=4,
        max_samples=16,
        reference=[f"<MaterialS>{MOF5}"],
        sampling=SamplingOptions(seed=9),
    )
    assert result.model.is_demo is True
    drawn = result.run.samples_drawn
    assert 4 <= drawn <= 16
    assert result.valid_count + len(result.invalid_samples) == drawn
    assert result.run.valid == result.valid_count
    assert result.novel_count is not None
    assert result.novel_count <= result.unique_count <= result.valid_count
    listed = result.materials + result.extra_materials
    decoded = {i for m in listed for i in m.sample_indices}
    assert decoded | {s.index for s in result.invalid_samples} == set(range(drawn))
    assert sum(m.count for m in listed if m.valid) == result.valid_count
    assert sum(1 for m in result.materials if m.valid) == min(result.unique_count, 4)
    assert len(result.extra_materials) == max(result.unique_count - 4, 0)
    assert all(m.valid for m in result.extra_materials)
    for material in listed:
        assert material.valid == (material.problems == [])
        if material.valid:
            for smiles in material.linker_smiles:
                assert Chem.MolFromSmiles(smiles) is not None
    assert result.target_reached == (result.unique_count >= 4)
