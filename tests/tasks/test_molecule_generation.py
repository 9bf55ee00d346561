from typing import Any, cast

import pytest

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.molecule_generation import MoleculeGenerationResult, check_prefix, generate_molecules

ETHANOL = "CCO<MoleculeE>"
PHENOL = "Oc1ccccc1<MoleculeE>"


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_unconditional_prompt_is_the_molecule_start_tag(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL, PHENOL])
    result = generate_molecules(context(backend, profile), num_molecules=2, sampling=SamplingOptions(seed=3))
    (request,) = backend.history
    assert request.prompt == "<MoleculeS>"
    assert request.stop == ("<MoleculeE>", "eos")
    assert (request.n, request.max_new_tokens, request.sampling.seed) == (2, 160, 3)
    assert (request.sampling.temperature, request.sampling.top_p, request.sampling.repetition_penalty) == (
        1.2,
        0.85,
        1.05,
    )
    assert result.prefix is None
    assert sorted(m.smiles for m in result.molecules) == ["CCO", "Oc1ccccc1"]
    assert result.sampling.seed == 3


def test_a_prefix_ends_the_prompt_and_starts_every_molecule(profile: Profile) -> None:
    backend = ScriptedBackend(["C(=O)O<MoleculeE>", "O<MoleculeE>"])
    result = generate_molecules(context(backend, profile), num_molecules=2, prefix="c1ccccc1")
    assert backend.history[0].prompt == "<MoleculeS>c1ccccc1"
    assert result.prefix == "c1ccccc1"
    written = {m.sampled_as: m.smiles for m in result.molecules}
    assert written == {"c1ccccc1C(=O)O": "O=C(O)c1ccccc1", "c1ccccc1O": "Oc1ccccc1"}


def test_an_unfinished_prefix_is_accepted_as_smiles_shaped_text(profile: Profile) -> None:
    assert check_prefix("CC(=O)N1CC", profile) == "CC(=O)N1CC"
    assert check_prefix("  [C@@H](", profile) == "[C@@H]("
    assert check_prefix(None, profile) == ""
    assert check_prefix("", profile) == ""


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("CC<MoleculeE>", "contains '<MoleculeE>'"),
        ("CC O", "whitespace at position 2"),
        ("CC>>O", "looks like a reaction"),
        ("CC?", "holds '\\?' at position 2"),
        ("Cé", "holds 'é' at position 1"),
    ],
)
def test_a_prefix_that_is_not_smiles_text_is_an_encode_error(
    profile: Profile, prefix: str, message: str
) -> None:
    backend = ScriptedBackend([ETHANOL])
    with pytest.raises(EncodeError, match=message):
        generate_molecules(context(backend, profile), prefix=prefix)
    assert backend.history == []


def test_validity_uniqueness_and_invalid_samples_are_reported(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL, ETHANOL, "C1CC<MoleculeE>", PHENOL])
    result = generate_molecules(context(backend, profile), num_molecules=4, max_samples=4)
    assert (result.run.samples_drawn, result.run.valid, result.run.invalid) == (4, 3, 1)
    assert result.validity == 0.75
    assert result.uniqueness == pytest.approx(0.6667)
    (bad,) = result.invalid_samples
    assert bad.index == 2
    assert "unclosed ring" in bad.reason.lower()
    assert result.run.partial is True
    assert "raise max_samples (now 4)" in (result.run.partial_reason or "")
    assert "Molecules by whole-text perplexity" in result.ranking


def test_novelty_is_unknown_without_a_reference_and_measured_with_one(profile: Profile) -> None:
    without = generate_molecules(context(ScriptedBackend([ETHANOL, PHENOL]), profile), num_molecules=2)
    assert without.novelty is None
    assert "training set is not known" in without.novelty_reference
    with_reference = generate_molecules(
        context(ScriptedBackend([ETHANOL, PHENOL]), profile), num_molecules=2, reference=["OCC", "CCCC"]
    )
    assert with_reference.novelty == 0.5
    assert with_reference.novelty_reference == "the 2 distinct reference molecules given"
    assert {m.smiles: m.novel for m in with_reference.molecules} == {"CCO": False, "Oc1ccccc1": True}


def test_filters_apply_with_oversampling(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL, PHENOL])
    result = generate_molecules(context(backend, profile), num_molecules=1, filters={"min_qed": 0.5})
    assert [request.n for request in backend.history] == [1, 2]
    assert [m.smiles for m in result.molecules] == ["Oc1ccccc1"]
    assert [m.smiles for m in result.rejected_molecules] == ["CCO"]
    assert result.rejected_molecules[0].filter_failures == ["QED 0.41 < 0.5"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_molecules": 0}, InputError, "num_molecules=0"),
        ({"num_molecules": 5000}, InputError, "num_molecules=5000"),
        ({"max_samples": -1}, InputError, "max_samples=-1"),
        ({"filters": {"max_mw": -3}}, InputError, "max_mw"),
        ({"reference": ["C1CC"]}, EncodeError, "reference_smiles 'C1CC' is invalid"),
    ],
)
def test_bad_options_raise_errors_that_name_the_value(
    profile: Profile, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    backend = ScriptedBackend([ETHANOL])
    with pytest.raises(error, match=message):
        generate_molecules(context(backend, profile), **kwargs)
    assert backend.history == []


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend([ETHANOL])
    result = generate_molecules(context(backend, profile, budget=0.0), num_molecules=2)
    assert backend.history == []
    assert result.run.partial is True
    assert (result.run.partial_reason or "").startswith("time budget ended with 0 of 2 molecules")
    assert result.molecules == []
    assert MoleculeGenerationResult.model_validate_json(result.model_dump_json()) == result


def test_demo_model_molecules_are_all_accounted_for_and_seeds_repeat(
    demo_backend: object, profile: Profile
) -> None:
    backend = cast(Backend, demo_backend)

    def run(prefix: str | None) -> MoleculeGenerationResult:
        return generate_molecules(
            context(backend, profile, budget=None),
            num_molecules=4,
            prefix=prefix,
            max_samples=16,
            sampling=SamplingOptions(seed=8),
        )

    for prefix in (None, "c1ccccc1"):
        first, second = run(prefix), run(prefix)
        assert first.model.is_demo is True
        drawn = first.run.samples_drawn
        assert 4 <= drawn <= 16
        assert first.run.valid + first.run.invalid == drawn
        assert len(first.invalid_samples) == first.run.invalid
        listed = first.molecules + first.extra_molecules + first.rejected_molecules
        assert sum(m.count for m in listed) == first.run.valid
        assert len(first.molecules) == 4 or first.run.partial
        assert all(m.sampled_as.startswith(prefix or "") for m in first.molecules)
        assert [m.smiles for m in first.molecules] == [m.smiles for m in second.molecules]
        assert [s.text for s in first.invalid_samples] == [s.text for s in second.invalid_samples]


def test_the_demo_model_lists_exactly_the_molecules_asked_for(demo_backend: object, profile: Profile) -> None:
    # the audit's case: this run's last round passed four molecules for three asked for
    result = generate_molecules(
        context(cast(Backend, demo_backend), profile, budget=None),
        num_molecules=3,
        max_samples=10,
        sampling=SamplingOptions(seed=1),
    )
    assert len(result.molecules) == 3
    assert result.filter_report.passed == 3 + len(result.extra_molecules)
    assert [m.rank for m in result.molecules + result.extra_molecules] == list(
        range(1, result.filter_report.passed + 1)
    )
    assert sum(m.count for m in result.molecules + result.extra_molecules) == result.run.valid
