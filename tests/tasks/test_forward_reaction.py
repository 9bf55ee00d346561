import pytest
from rdkit import Chem

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.forward_reaction import predict_reaction

ESTER_PROMPT = "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE><React>"


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_prompt_stop_count_and_sampling_follow_the_profile_template(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>CCOC(C)=O<MoleculeE>"])
    result = predict_reaction(
        context(backend, profile), ["OC(C)=O", "OCC"], num_samples=4, sampling=SamplingOptions(seed=11)
    )
    (request,) = backend.history
    assert request.prompt == ESTER_PROMPT
    assert request.stop == ("eos",)
    assert request.n == 4
    assert request.max_new_tokens == 192
    assert (request.sampling.temperature, request.sampling.top_p, request.sampling.top_k) == (1.2, 0.85, 50)
    assert (request.sampling.repetition_penalty, request.sampling.seed) == (1.05, 11)
    assert result.sampling.seed == 11
    assert result.reactants == ["CC(=O)O", "CCO"]


def test_a_dot_joined_string_is_read_as_the_list_of_its_reactants(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>CCOC(C)=O<MoleculeE>"])
    predict_reaction(context(backend, profile), " OC(C)=O.OCC ")
    (request,) = backend.history
    assert request.prompt == ESTER_PROMPT
    assert request.n == 16  # the profile's reference count


def test_product_sets_are_grouped_ranked_and_checked_for_mass_balance(profile: Profile) -> None:
    backend = ScriptedBackend(
        [
            "<MoleculeS>CCOC(C)=O<MoleculeE>",
            "<MoleculeS>O=C(C)OCC<MoleculeE>",
            "<MoleculeS>O<MoleculeE><MoleculeS>CCOC(C)=O<MoleculeE>",
            "<MoleculeS>ClC(Cl)(Cl)C<MoleculeE>",
            "<MoleculeS>C1CC<MoleculeE>",
            "<MoleculeS>OCC<MoleculeE><MoleculeS>CC(O)=O<MoleculeE>",
            "<MoleculeS>CCOC(C)=O",
            "<MoleculeE>",
        ]
    )
    result = predict_reaction(context(backend, profile), ["CC(=O)O", "CCO"], num_samples=8)
    assert [[p.smiles for p in c.products] for c in result.candidates] == [
        ["CCOC(C)=O"],
        ["CCOC(C)=O", "O"],
        ["CC(Cl)(Cl)Cl"],
    ]
    first, second, third = result.candidates
    assert (first.rank, first.count, first.frequency) == (1, 2, 0.25)
    assert (first.atoms_balanced, first.excess_atoms) == (True, {})
    assert (second.atoms_balanced, second.excess_atoms) == (True, {})
    assert (third.atoms_balanced, third.excess_atoms) == (False, {"Cl": 3})
    assert first.mean_logprob == -0.5
    reasons = {s.index: s.reason for s in result.invalid_samples}
    assert sorted(reasons) == [4, 5, 6, 7]
    assert "unclosed ring" in reasons[4]
    assert reasons[5] == "the answer only repeats the reactants"
    # The model ended the text (end of generation) inside a block: no token limit cut it.
    assert reasons[6] == "the model ended the text before closing its last molecule block with <MoleculeE>"
    assert "closes a molecule block" in reasons[7]
    assert (result.run.valid, result.run.invalid, result.run.samples_drawn) == (4, 4, 8)
    assert result.validity == 0.5
    assert result.run.partial is False
    assert "most often sampled" in result.ranking


def test_an_answer_made_only_of_some_of_the_reactants_predicts_no_product(profile: Profile) -> None:
    backend = ScriptedBackend(
        [
            "<MoleculeS>OCC<MoleculeE>",
            "<MoleculeS>CCO<MoleculeE><MoleculeS>CCOC(C)=O<MoleculeE>",
        ]
    )
    result = predict_reaction(context(backend, profile), ["CC(=O)Cl", "CCO"], num_samples=2)
    assert [[p.smiles for p in c.products] for c in result.candidates] == [["CCO", "CCOC(C)=O"]]
    assert [(s.index, s.reason) for s in result.invalid_samples] == [
        (0, "the answer only repeats the reactants")
    ]
    assert (result.run.valid, result.run.invalid, result.validity) == (1, 1, 0.5)


@pytest.mark.parametrize(
    ("reactants", "error", "message"),
    [
        (["CC(=O)O", "C1CC"], EncodeError, "reactant 2 SMILES 'C1CC' is invalid"),
        ("CC(=O)O..OCC", InputError, "empty part between dots"),
        ("CC(=O)O.OCC>>CCOC(C)=O", InputError, "look like a reaction SMILES"),
        ([], InputError, "No reactants given"),
        ("", InputError, "No reactants given"),
        (["<MoleculeE>CC"], EncodeError, "must not contain LOGOS tags"),
    ],
)
def test_bad_reactants_fail_before_any_model_call(
    profile: Profile, reactants: list[str] | str, error: type[Exception], message: str
) -> None:
    backend = ScriptedBackend(["<MoleculeS>C<MoleculeE>"])
    with pytest.raises(error, match=message):
        predict_reaction(context(backend, profile), reactants)
    assert backend.history == []


def test_a_sample_count_out_of_range_is_rejected(profile: Profile) -> None:
    with pytest.raises(InputError, match="num_samples=0 is out of range"):
        predict_reaction(context(ScriptedBackend(["x"]), profile), ["CCO"], num_samples=0)


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>CCOC(C)=O<MoleculeE>"])
    result = predict_reaction(context(backend, profile, budget=0.0), ["CC(=O)O", "CCO"])
    assert result.run.partial is True
    assert result.run.partial_reason == "time budget"
    assert (result.run.samples_drawn, result.candidates, result.validity) == (0, [], 0.0)
    assert backend.history == []


def test_the_demo_model_predicts_checked_product_sets_and_repeats_with_a_seed(
    demo_backend: Backend, profile: Profile
) -> None:
    def run() -> list[list[str]]:
        result = predict_reaction(
            context(demo_backend, profile, budget=None),
            ["CC(=O)O", "CCO"],
            num_samples=8,
            sampling=SamplingOptions(seed=5),
        )
        assert result.model.is_demo is True
        assert result.run.samples_drawn == 8
        assert result.run.valid + result.run.invalid == 8
        assert len(result.invalid_samples) == result.run.invalid
        assert sum(c.count for c in result.candidates) == result.run.valid
        assert all(s.reason for s in result.invalid_samples)
        for candidate in result.candidates:
            for product in candidate.products:
                assert Chem.MolFromSmiles(product.smiles) is not None
        return [[p.smiles for p in c.products] for c in result.candidates]

    assert run() == run()
