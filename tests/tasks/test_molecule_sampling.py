from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import SamplingParams
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import TaskContext
from logos_tools.tasks.molecule_sampling import (
    MoleculeJob,
    SampledMolecules,
    canonical_reference,
    check_counts,
    sample_molecules,
)
from logos_tools.tasks.properties import MoleculeFilter

ETHANOL = "CCO<MoleculeE>"
PHENOL = "Oc1ccccc1<MoleculeE>"
TOLUENE = "Cc1ccccc1<MoleculeE>"
# ibuprofen, MW 206
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O<MoleculeE>"
UNCLOSED_RING = "C1CC<MoleculeE>"
NO_END_TAG = "CCN"


def job(prefix: str = "", seed: int = 5) -> MoleculeJob:
    return MoleculeJob(
        prompt="<MoleculeS>" + prefix,
        stop=("<MoleculeE>", "eos"),
        max_new_tokens=64,
        params=SamplingParams(seed=seed),
        label="test",
        prefix=prefix,
    )


def run(
    profile: Profile,
    script: Sequence[str],
    *,
    num_molecules: int = 3,
    max_samples: int = 20,
    filters: MoleculeFilter | None = None,
    reference: frozenset[str] | None = None,
    budget: float | None = 45.0,
    prefix: str = "",
) -> tuple[SampledMolecules, ScriptedBackend]:
    backend = ScriptedBackend(list(script))
    ctx = TaskContext(backend=backend, profile=profile, time_budget_s=budget)
    sampled = sample_molecules(
        ctx,
        job(prefix),
        num_molecules=num_molecules,
        max_samples=max_samples,
        filters=filters or MoleculeFilter(),
        reference=reference,
    )
    return sampled, backend


def test_one_round_suffices_when_every_sample_is_a_new_passing_molecule(profile: Profile) -> None:
    sampled, backend = run(profile, [ETHANOL, PHENOL, TOLUENE])
    assert [request.n for request in backend.history] == [3]
    assert sorted(m.smiles for m in sampled.molecules) == ["CCO", "Cc1ccccc1", "Oc1ccccc1"]
    assert sampled.partial_reason is None
    assert (sampled.valid, sampled.invalid) == (3, [])


def test_round_sizes_follow_the_observed_yield(profile: Profile) -> None:
    script = [ETHANOL, ETHANOL, ETHANOL, ETHANOL, PHENOL, TOLUENE, IBUPROFEN, ETHANOL, ETHANOL]
    sampled, backend = run(profile, script, num_molecules=4)
    # round 1 draws 4 samples giving 1 molecule: yield (1 + 1) / (4 + 1) = 0.4, 3 missing -> ceil(7.5) = 8
    assert [request.n for request in backend.history] == [4, 8]
    assert len(sampled.molecules) == 4
    assert sampled.partial_reason is None


def test_molecules_passed_beyond_the_count_asked_for_are_kept_apart_as_extra(profile: Profile) -> None:
    # round 1 (two ethanols) passes one molecule; round 2 asks for two samples and both pass
    sampled, backend = run(profile, [ETHANOL, ETHANOL, PHENOL, TOLUENE], num_molecules=2)
    assert [request.n for request in backend.history] == [2, 2]
    assert [(m.rank, m.smiles) for m in sampled.molecules] == [(1, "CCO"), (2, "Oc1ccccc1")]
    assert [(m.rank, m.smiles, m.sample_indices) for m in sampled.extra] == [(3, "Cc1ccccc1", [3])]
    assert sampled.filter_report.passed == 3
    assert sampled.partial_reason is None
    assert sum(m.count for m in sampled.molecules + sampled.extra) == sampled.valid == 4


def test_each_round_uses_the_next_seed(profile: Profile) -> None:
    _, backend = run(profile, [ETHANOL], num_molecules=2, max_samples=6)
    # ethanol alone never makes two molecules: three rounds of two samples exhaust the budget
    assert [request.n for request in backend.history] == [2, 2, 2]
    assert [request.sampling.seed for request in backend.history] == [5, 6, 7]


def test_a_molecule_sampled_in_several_rounds_is_listed_once_with_its_count(profile: Profile) -> None:
    sampled, _ = run(profile, [ETHANOL, "OCC<MoleculeE>"], num_molecules=2, max_samples=6)
    (ethanol,) = sampled.molecules
    assert ethanol.smiles == "CCO"
    assert ethanol.count == 6
    assert ethanol.sample_indices == [0, 1, 2, 3, 4, 5]
    assert ethanol.sampled_as == "CCO"
    assert sampled.uniqueness == pytest.approx(1 / 6)


def test_the_sample_budget_ends_the_rounds_and_says_so(profile: Profile) -> None:
    sampled, backend = run(profile, [UNCLOSED_RING], num_molecules=2, max_samples=7)
    assert sum(request.n for request in backend.history) == 7
    assert sampled.molecules == []
    assert len(sampled.invalid) == 7
    assert sampled.partial_reason is not None
    assert sampled.partial_reason.startswith(
        "sample budget ended with 0 of 2 molecules passing after 7 samples"
    )
    assert "raise max_samples (now 7)" in sampled.partial_reason


def test_rounds_never_exceed_the_round_limit(profile: Profile) -> None:
    _, backend = run(profile, [UNCLOSED_RING], num_molecules=2, max_samples=2500)
    # with no molecule at all each round asks for about three times the samples drawn so far
    assert [request.n for request in backend.history] == [2, 6, 18, 54, 162, 486, 1024, 748]


def test_invalid_samples_keep_their_reasons(profile: Profile) -> None:
    sampled, _ = run(
        profile,
        [UNCLOSED_RING, NO_END_TAG, "CC<ProteinS>C<MoleculeE>", "CC\ufffdC<MoleculeE>", ETHANOL],
        num_molecules=1,
        max_samples=5,
    )
    # the first round asks for one sample; later rounds grow until ethanol (the fifth sample) passes
    reasons = {sample.index: sample.reason for sample in sampled.invalid}
    assert "unclosed ring" in reasons[0].lower()
    assert reasons[1] == "the model ended the text without closing the molecule block with <MoleculeE>"
    assert "<ProteinS>" in reasons[2]
    assert "non-ASCII character" in reasons[3]
    assert [m.smiles for m in sampled.molecules] == ["CCO"]
    assert sampled.valid + len(sampled.invalid) == len(sampled.drawn.samples)


def test_the_prefix_starts_every_molecule(profile: Profile) -> None:
    sampled, backend = run(profile, ["C(=O)O<MoleculeE>"], num_molecules=1, prefix="c1ccccc1")
    assert backend.history[0].prompt == "<MoleculeS>c1ccccc1"
    (acid,) = sampled.molecules
    assert acid.sampled_as == "c1ccccc1C(=O)O"
    assert acid.smiles == "O=C(O)c1ccccc1"


def test_molecules_missing_a_filter_are_listed_with_reasons_and_tallied(profile: Profile) -> None:
    # QED: ethanol 0.41, phenol 0.51, toluene 0.46, ibuprofen 0.82; MW: only ibuprofen (206) is over 100
    limits = MoleculeFilter(max_mw=100, min_qed=0.5)
    sampled, _ = run(
        profile, [ETHANOL, IBUPROFEN, PHENOL, TOLUENE], num_molecules=5, max_samples=4, filters=limits
    )
    assert [m.smiles for m in sampled.molecules] == ["Oc1ccccc1"]
    rejected = {m.smiles: m for m in sampled.rejected}
    assert set(rejected) == {"CCO", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "Cc1ccccc1"}
    assert all(not m.passes_filters for m in rejected.values())
    assert rejected["CC(C)Cc1ccc(C(C)C(=O)O)cc1"].filter_failures == ["MW 206.3 > 100"]
    assert rejected["CCO"].filter_failures == ["QED 0.41 < 0.5"]
    report = sampled.filter_report
    assert (report.active, report.passed, report.failed) == (True, 1, 3)
    assert report.failures_by_limit == {"max_mw": 1, "min_qed": 2}
    assert (sampled.partial_reason or "").startswith(
        "sample budget ended with 1 of 5 molecules passing the filters after 4 samples"
    )


def test_molecules_rank_by_whole_text_perplexity(profile: Profile) -> None:
    # the scripted backend gives every pseudo-token log-prob -0.5 and ranks nothing by itself, so all
    # perplexities are equal and ties keep sample order
    sampled, _ = run(profile, [PHENOL, ETHANOL], num_molecules=2)
    assert [m.rank for m in sampled.molecules] == [1, 2]
    assert [m.smiles for m in sampled.molecules] == ["Oc1ccccc1", "CCO"]
    assert all(m.perplexity == pytest.approx(1.6487, abs=1e-4) for m in sampled.molecules)


def test_novelty_is_measured_only_against_a_given_reference(profile: Profile) -> None:
    reference = canonical_reference(["OCC"], profile, what="reference SMILES")
    known, _ = run(profile, [ETHANOL, PHENOL], num_molecules=2, reference=reference)
    assert {m.smiles: m.novel for m in known.molecules} == {"CCO": False, "Oc1ccccc1": True}
    assert known.novelty == 0.5
    unknown, _ = run(profile, [ETHANOL, PHENOL], num_molecules=2)
    assert unknown.novelty is None
    assert all(m.novel is None for m in unknown.molecules)


def test_an_expired_time_budget_draws_nothing_and_says_so(profile: Profile) -> None:
    sampled, backend = run(profile, [ETHANOL], budget=0.0)
    assert backend.history == []
    assert sampled.drawn.samples == []
    assert (sampled.partial_reason or "").startswith("time budget ended with 0 of 3 molecules")


def test_counts_are_checked_and_the_budget_defaults_to_four_samples_per_molecule() -> None:
    assert check_counts(10, None) == 40
    assert check_counts(10, 3) == 3
    with pytest.raises(InputError, match="num_molecules=0 is out of range"):
        check_counts(0, None)
    with pytest.raises(InputError, match="max_samples=0 is out of range"):
        check_counts(3, 0)


def test_an_invalid_reference_smiles_is_named_in_the_error(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="reference SMILES 'C1CC' is invalid"):
        canonical_reference(["CCO", "C1CC"], profile, what="reference SMILES")


POOL = [
    ETHANOL,
    PHENOL,
    TOLUENE,
    IBUPROFEN,
    UNCLOSED_RING,
    NO_END_TAG,
    "OCC<MoleculeE>",
    "c1ccccc1O<MoleculeE>",
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    script=st.lists(st.sampled_from(POOL), min_size=1, max_size=12),
    num_molecules=st.integers(1, 5),
    max_samples=st.integers(1, 25),
    max_mw=st.sampled_from([None, 100.0, 1000.0]),
)
def test_every_sample_is_accounted_for_whatever_the_model_writes(
    profile: Profile, script: list[str], num_molecules: int, max_samples: int, max_mw: float | None
) -> None:
    sampled, backend = run(
        profile,
        script,
        num_molecules=num_molecules,
        max_samples=max_samples,
        filters=MoleculeFilter(max_mw=max_mw),
    )
    drawn = len(sampled.drawn.samples)
    assert drawn == sum(request.n for request in backend.history) == sampled.requested <= max_samples
    assert sampled.valid + len(sampled.invalid) == drawn
    listed = sampled.molecules + sampled.extra + sampled.rejected
    assert sum(m.count for m in listed) == sampled.valid
    assert len({m.smiles for m in listed}) == len(listed)
    assert sampled.filter_report.passed == len(sampled.molecules) + len(sampled.extra)
    assert sampled.filter_report.failed == len(sampled.rejected)
    assert len(sampled.molecules) <= num_molecules
    assert [m.rank for m in sampled.molecules + sampled.extra] == list(
        range(1, len(sampled.molecules) + len(sampled.extra) + 1)
    )
    assert (len(sampled.molecules) == num_molecules) == (sampled.partial_reason is None)
    assert not sampled.extra or len(sampled.molecules) == num_molecules
