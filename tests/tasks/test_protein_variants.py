import math

import pytest

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.protein_variants import complete_sequence, score_protein_variants

WILD = "MKTAYIAKQR"  # M1 K2 T3 A4 Y5 I6 A7 K8 Q9 R10


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_variants_are_scored_as_whole_sequence_blocks_against_the_wild_type(profile: Profile) -> None:
    backend = ScriptedBackend([])
    result = score_protein_variants(context(backend, profile), "mktay iakqr", ["A4G", "A7G:K2R", "a4g"])
    assert backend.scored == [
        ("", "<ProteinS>MKTAYIAKQR<ProteinE>"),
        ("", "<ProteinS>MKTGYIAKQR<ProteinE>"),
        ("", "<ProteinS>MRTAYIGKQR<ProteinE>"),
    ]
    assert result.wild_type == WILD
    assert [v.mutation for v in result.variants] == ["A4G", "K2R:A7G"]  # 'a4g' is the same variant
    assert result.variants[1].substitutions == ["K2R", "A7G"]
    assert result.variants[1].sequence == "MRTAYIGKQR"
    # the fake scores -0.1 per character: equal lengths give equal likelihoods
    assert result.wild_type_log_prob == pytest.approx(-0.1 * (len("<ProteinS>MKTAYIAKQR<ProteinE>") - 1))
    assert [(v.llr, v.llr_per_residue) for v in result.variants] == [(0.0, 0.0), (0.0, 0.0)]
    assert [v.rank for v in result.variants] == [1, 2]
    assert result.sampling.max_new_tokens == 0
    assert (result.run.samples_requested, result.run.valid, result.run.partial) == (3, 3, False)


def test_antibody_variants_are_scored_in_antibody_blocks(profile: Profile) -> None:
    backend = ScriptedBackend([])
    score_protein_variants(context(backend, profile), "EVQLVE", ["V2A"], kind="antibody")
    assert [text for _, text in backend.scored] == [
        "<AntibodyS>EVQLVE<AntibodyE>",
        "<AntibodyS>EAQLVE<AntibodyE>",
    ]


def test_positions_follow_the_offset(profile: Profile) -> None:
    backend = ScriptedBackend([])
    result = score_protein_variants(context(backend, profile), WILD, ["A3G"], offset=0)
    assert result.variants[0].sequence == "MKTGYIAKQR"
    assert result.offset == 0


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ("K4G", r"the wild type has 'A' at position 4, not 'K'\. Write 'A4G'"),
        ("T4G", "has 'T' at position 3: is the numbering off by one"),
        ("A11G", "numbered 1 to 10"),
        ("A4", "is not <wild-type letter><position><new letter>"),
        ("A4X", "unknown residue"),
        ("A4*", "stop codon"),
        ("A4G:A4C", "changes position 4 twice"),
        ("", "is empty"),
    ],
)
def test_a_mutation_that_does_not_fit_the_wild_type_fails_before_any_scoring(
    profile: Profile, mutation: str, message: str
) -> None:
    backend = ScriptedBackend([])
    with pytest.raises(InputError, match=message):
        score_protein_variants(context(backend, profile), WILD, ["A4G", mutation])
    assert backend.scored == []


def test_bad_wild_types_kinds_and_lists_are_rejected(profile: Profile) -> None:
    ctx = context(ScriptedBackend([]), profile)
    with pytest.raises(EncodeError, match="position 3"):
        score_protein_variants(ctx, "MKXA", ["M1A"])
    with pytest.raises(InputError, match="kind='dna'"):
        score_protein_variants(ctx, WILD, ["A4G"], kind="dna")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be a list"):
        score_protein_variants(ctx, WILD, "A4G")
    with pytest.raises(InputError, match="No mutations"):
        score_protein_variants(ctx, WILD, [])


def test_an_expired_time_budget_leaves_every_variant_unscored(profile: Profile) -> None:
    backend = ScriptedBackend([])
    result = score_protein_variants(context(backend, profile, budget=0.0), WILD, ["A4G", "K2R"])
    assert backend.scored == []
    assert (result.variants, result.unscored, result.wild_type_log_prob) == ([], ["A4G", "K2R"], None)
    assert result.run.partial is True
    assert "time budget" in (result.run.partial_reason or "")


def test_completion_prompts_follow_the_profile_templates(profile: Profile) -> None:
    backend = ScriptedBackend(["IAK<ProteinE>"])
    result = complete_sequence(context(backend, profile), "mk tay", sampling=SamplingOptions(seed=2))
    (request,) = backend.history
    assert request.prompt == "<ProteinS>MKTAY"
    assert request.stop == ("<ProteinE>", "eos")
    assert (request.n, request.max_new_tokens, request.sampling.seed) == (8, 512, 2)
    assert result.prefix == "MKTAY"

    antibody = ScriptedBackend(["LVE<AntibodyE>"])
    result = complete_sequence(
        context(antibody, profile), "EVQ", kind="antibody", num_samples=2, max_new_tokens=40
    )
    (request,) = antibody.history
    assert request.prompt == "<AntibodyS>EVQ"
    assert request.stop == ("<AntibodyE>", "eos")
    assert (request.n, request.max_new_tokens) == (2, 40)
    assert [c.sequence for c in result.completions] == ["EVQLVE"]


def test_completions_are_decoded_as_full_sequences_grouped_and_invalid_ones_kept(profile: Profile) -> None:
    backend = ScriptedBackend(
        [
            "IAKQ<ProteinE>",
            "IAKQ<ProteinE>",
            "IAXQ<ProteinE>",
            "<ProteinE>",
            "IAK",
            "I<PocketS>A<PocketE><ProteinE>",
            "GG<ProteinE>",
        ]
    )
    result = complete_sequence(context(backend, profile), "MKTAY", num_samples=7)
    assert [(c.sequence, c.continuation, c.count, c.sample_indices) for c in result.completions] == [
        ("MKTAYIAKQ", "IAKQ", 2, [0, 1]),
        ("MKTAYGG", "GG", 1, [6]),
    ]
    assert result.completions[0].length == 9
    assert result.completions[0].best_perplexity == pytest.approx(math.exp(0.5), abs=1e-4)
    reasons = {s.index: s.reason for s in result.invalid_samples}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert "'X'" in reasons[2]
    assert reasons[3] == "the completion adds no residue to the prefix"
    # The model ended the text itself: "truncated at the token limit" would be wrong.
    assert reasons[4] == "the model ended the text without closing the protein block with <ProteinE>"
    assert reasons[5] == (
        "the model marked pocket residues (<PocketS>...<PocketE>) inside the sequence; a completed "
        "sequence holds residue letters only"
    )
    assert (result.run.valid, result.run.invalid, result.validity) == (3, 4, round(3 / 7, 4))


def test_an_empty_prefix_generates_from_scratch_and_a_bad_prefix_is_rejected(profile: Profile) -> None:
    backend = ScriptedBackend(["MKT<ProteinE>"])
    result = complete_sequence(context(backend, profile), "", num_samples=1)
    assert backend.history[0].prompt == "<ProteinS>"
    assert result.completions[0].sequence == "MKT"
    with pytest.raises(EncodeError, match="'B' at position 3"):
        complete_sequence(context(backend, profile), "MKB")
    with pytest.raises(EncodeError, match="must not contain LOGOS tags"):
        complete_sequence(context(backend, profile), "MK<ProteinE>")
    with pytest.raises(InputError, match="max_new_tokens=0"):
        complete_sequence(context(backend, profile), "MK", max_new_tokens=0)
    assert len(backend.history) == 1


def test_an_expired_time_budget_returns_a_partial_completion_result(profile: Profile) -> None:
    backend = ScriptedBackend(["IAK<ProteinE>"])
    result = complete_sequence(context(backend, profile, budget=0.0), "MKT")
    assert (result.run.partial, result.run.partial_reason, result.completions) == (True, "time budget", [])


def test_the_demo_model_scores_variants_consistently(demo_backend: Backend, profile: Profile) -> None:
    wild = "MKTAYIAKQRQISFVKSHFSRQ"
    result = score_protein_variants(
        context(demo_backend, profile, budget=None), wild, ["A4G", "K2R:T3S", "M1L", "R21K"]
    )
    assert result.model.is_demo is True
    assert result.wild_type_log_prob is not None
    assert len(result.variants) == 4
    llrs = [v.llr for v in result.variants]
    assert llrs == sorted(llrs, reverse=True)
    for variant in result.variants:
        assert variant.llr == pytest.approx(variant.log_prob - result.wild_type_log_prob, abs=1e-5)
        assert variant.llr_per_residue == pytest.approx(variant.llr / len(wild), abs=1e-5)
        assert variant.log_prob < 0
    again = score_protein_variants(context(demo_backend, profile, budget=None), wild, ["A4G"])
    assert again.variants[0].llr == pytest.approx(
        next(v.llr for v in result.variants if v.mutation == "A4G"), abs=1e-4
    )


def test_the_demo_model_completes_a_protein_with_complete_accounting(
    demo_backend: Backend, profile: Profile
) -> None:
    result = complete_sequence(
        context(demo_backend, profile, budget=None),
        "MKT",
        num_samples=6,
        max_new_tokens=64,
        sampling=SamplingOptions(seed=4),
    )
    assert result.run.samples_drawn == 6
    assert sum(c.count for c in result.completions) + len(result.invalid_samples) == 6
    assert result.run.valid == sum(c.count for c in result.completions)
    for completion in result.completions:
        assert completion.sequence.startswith("MKT")
        assert set(completion.sequence) <= set("ACDEFGHIKLMNPQRSTVWY")
    ppls = [c.best_perplexity for c in result.completions]
    assert all(p is not None and p > 0 for p in ppls)
