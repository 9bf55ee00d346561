from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from logos_tools.errors import EncodeError, InputError
from logos_tools.grammar.gbnf import pocket_answer_gbnf
from logos_tools.grammar.pocket import encode_pocket_protein
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.structure import read_structure
from logos_tools.runtime.base import Backend, BackendInfo
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.shipped import grammar_dir
from logos_tools.tasks.binding_site import BindingSiteResult, find_binding_sites
from logos_tools.tasks.common import SamplingOptions, TaskContext

STRUCTURES = grammar_dir() / "fixtures" / "structures"
HIV_PROTEASE = STRUCTURES / "1hvr.pdb"
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


def answer(sequence: str, positions0: Sequence[int], profile: Profile) -> str:
    """What a model writes after the binding-site prompt (which already opened the protein block)."""
    return encode_pocket_protein(sequence, positions0, profile).removeprefix(profile.start("protein"))


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_prompt_stop_count_and_grammar_follow_the_reference_template(profile: Profile) -> None:
    backend = ScriptedBackend([answer(SEQUENCE, [], profile)])
    result = find_binding_sites(
        context(backend, profile), sequence=SEQUENCE, sampling=SamplingOptions(seed=7)
    )
    (request,) = backend.history
    assert request.prompt == f"<ProteinS>{SEQUENCE}<ProteinE><Search><ProteinS>"
    assert request.stop == ("<ProteinE>", "eos")
    assert request.n == 40
    assert request.grammar == pocket_answer_gbnf(SEQUENCE, profile)
    assert (request.sampling.temperature, request.sampling.top_p, request.sampling.top_k) == (1.2, 0.85, 50)
    assert (request.sampling.repetition_penalty, request.sampling.seed) == (1.05, 7)
    # auto length: one token per letter plus 4 per expected mark (at least 32 marks) plus the end tag
    assert request.max_new_tokens == 3 * len(SEQUENCE) + 1  # constrained: every residue marked alone
    assert result.sampling.max_new_tokens == request.max_new_tokens
    assert result.sampling.constrained is True
    assert result.sampling.seed == 7


def test_unconstrained_runs_send_no_grammar_and_say_so(profile: Profile) -> None:
    backend = ScriptedBackend([answer(SEQUENCE, [2], profile)])
    result = find_binding_sites(
        context(backend, profile), sequence=SEQUENCE, num_samples=3, constrained=False
    )
    assert backend.history[0].grammar is None
    assert backend.history[0].n == 3
    assert result.sampling.constrained is False


def test_consensus_counts_each_residue_over_valid_samples_only(profile: Profile) -> None:
    diverging = answer("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVA", [3], profile)  # last letter differs
    backend = ScriptedBackend(
        [
            answer(SEQUENCE, [2, 3, 4, 20], profile),
            answer(SEQUENCE, [2, 3, 4], profile),
            answer(SEQUENCE, [3, 4, 20, 21], profile),
            diverging,
            answer(SEQUENCE, [], profile),
        ]
    )
    result = find_binding_sites(context(backend, profile), sequence=SEQUENCE, num_samples=5)
    assert result.run.samples_drawn == 5
    assert (result.run.valid, result.run.invalid) == (4, 1)
    assert result.validity == 0.8
    by_index = {residue.index: residue for residue in result.consensus}
    assert sorted(by_index) == [2, 3, 4, 20, 21]
    assert {i: r.count for i, r in by_index.items()} == {2: 2, 3: 3, 4: 3, 20: 2, 21: 1}
    assert by_index[3].consensus == 0.75
    assert (by_index[3].letter, by_index[3].position, by_index[3].residue_number) == ("A", 4, None)
    assert sorted(len(s.positions) for s in result.pocket_sets) == [0, 3, 4, 4]
    (bad,) = result.invalid_samples
    assert bad.index == 3
    assert "index 32" in bad.reason
    (divergence,) = result.divergences
    assert (divergence.sample_index, divergence.index, divergence.position) == (3, 32, 33)


def test_identical_pocket_answers_are_one_entry_with_their_sample_count(profile: Profile) -> None:
    once, thrice = answer(SEQUENCE, [2, 6], profile), answer(SEQUENCE, [3, 4, 20], profile)
    backend = ScriptedBackend([once, thrice, "MKT<PocketS>", thrice, thrice])
    result = find_binding_sites(context(backend, profile), sequence=SEQUENCE, num_samples=5)
    assert result.run.valid == 4
    first, second = result.pocket_sets
    # equal perplexities (the scripted model gives every token the same logprob): more samples first
    assert (first.rank, first.count, first.frequency) == (1, 3, 0.75)
    assert (first.sample_index, first.sample_indices) == (1, [1, 3, 4])
    assert (first.positions, first.pocket, first.residue_numbers) == ([4, 5, 21], "AYR", None)
    assert first.best_perplexity is not None
    assert (second.rank, second.count, second.frequency, second.sample_indices) == (2, 1, 0.25, [0])
    assert second.positions == [3, 7]
    assert "then by sample count" in result.ranking


def test_sites_group_residues_within_four_positions_and_rank_by_mean_consensus(profile: Profile) -> None:
    backend = ScriptedBackend(
        [
            answer(SEQUENCE, [2, 6, 20, 30], profile),
            answer(SEQUENCE, [2, 6, 20], profile),
            answer(SEQUENCE, [2, 6, 30], profile),
        ]
    )
    result = find_binding_sites(
        context(backend, profile), sequence=SEQUENCE, num_samples=3, min_consensus=0.6
    )
    assert [site.positions for site in result.sites] == [[3, 7], [21], [31]]
    assert [site.rank for site in result.sites] == [1, 2, 3]
    assert result.sites[0].mean_consensus == 1.0
    assert result.sites[1].mean_consensus == pytest.approx(0.6667)
    assert "at most 4 positions apart" in result.grouping
    assert "sequence proximity only" in result.grouping


def test_residues_below_min_consensus_join_no_site(profile: Profile) -> None:
    backend = ScriptedBackend([answer(SEQUENCE, [2, 10], profile), answer(SEQUENCE, [2], profile)])
    result = find_binding_sites(
        context(backend, profile), sequence=SEQUENCE, num_samples=2, min_consensus=0.75
    )
    assert [site.positions for site in result.sites] == [[3]]
    assert {r.index for r in result.consensus} == {2, 10}


def test_an_answer_ended_before_its_closing_tag_is_invalid_with_the_reason(profile: Profile) -> None:
    cut = answer(SEQUENCE, [1], profile).removesuffix(profile.end("protein"))[:-5]
    backend = ScriptedBackend([cut, answer(SEQUENCE, [1], profile)])
    result = find_binding_sites(context(backend, profile), sequence=SEQUENCE, num_samples=2)
    (bad,) = result.invalid_samples
    assert bad.index == 0
    assert bad.reason.startswith("the model ended the text before closing the protein block")
    assert "truncated after" in bad.reason
    assert result.divergences == []
    assert [s.sample_index for s in result.pocket_sets] == [1]


def test_structure_input_reports_author_residue_numbers(profile: Profile) -> None:
    chain = read_structure(HIV_PROTEASE).chain("A")
    backend = ScriptedBackend([answer(chain.sequence, [24, 26], profile)])
    result = find_binding_sites(context(backend, profile), structure=HIV_PROTEASE, chain="A", num_samples=2)
    assert backend.history[0].prompt == f"<ProteinS>{chain.sequence}<ProteinE><Search><ProteinS>"
    assert result.sequence == chain.sequence
    assert (result.chain, result.structure) == ("A", str(HIV_PROTEASE))
    assert [r.residue_number for r in result.consensus] == ["25", "27"]
    assert [r.letter for r in result.consensus] == ["D", "G"]
    assert result.pocket_sets[0].residue_numbers == ["25", "27"]
    assert result.sites[0].residue_numbers == ["25", "27"]
    assert any("CSO 67 as C" in note for note in result.notes)


def test_structure_input_links_residues_whose_ca_atoms_are_close_in_space(profile: Profile) -> None:
    # In 1HVR chain A, the CA atoms of residues 22 and 84 are 5.3 Å apart; residues 1 and 51 are 32 Å apart.
    chain = read_structure(HIV_PROTEASE).chain("A")
    completions = [answer(chain.sequence, [0, 21, 50, 83], profile)]
    spatial = find_binding_sites(
        context(ScriptedBackend(completions), profile), structure=HIV_PROTEASE, chain="A", num_samples=1
    )
    linear = find_binding_sites(
        context(ScriptedBackend(completions), profile), sequence=chain.sequence, num_samples=1
    )
    assert sorted(site.residue_numbers or [] for site in spatial.sites) == [["1"], ["22", "84"], ["51"]]
    assert sorted(site.positions for site in linear.sites) == [[1], [22], [51], [84]]
    assert "CA atoms are within 8 Å" in spatial.grouping


def test_a_structure_with_several_chains_needs_a_chain(profile: Profile) -> None:
    backend = ScriptedBackend(["x"])
    with pytest.raises(InputError, match=r"several protein chains: A \(99 residues\), B \(99 residues\)"):
        find_binding_sites(context(backend, profile), structure=HIV_PROTEASE)
    with pytest.raises(InputError, match="no protein chain 'C'"):
        find_binding_sites(context(backend, profile), structure=HIV_PROTEASE, chain="C")
    assert backend.history == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Give exactly one input"),
        ({"sequence": SEQUENCE, "structure": HIV_PROTEASE}, "got both"),
        ({"sequence": SEQUENCE, "chain": "A"}, "only selects a protein chain"),
        ({"sequence": SEQUENCE, "min_consensus": 0.0}, "min_consensus=0.0 is outside"),
        ({"sequence": SEQUENCE, "num_samples": 0}, "num_samples=0 is out of range"),
        ({"sequence": SEQUENCE, "max_new_tokens": 0}, "max_new_tokens=0 is out of range"),
        ({"structure": Path("missing.pdb"), "chain": "A"}, "does not exist"),
    ],
)
def test_bad_inputs_raise_input_errors_that_name_the_fix(
    profile: Profile, kwargs: dict[str, Any], message: str
) -> None:
    backend = ScriptedBackend(["x"])
    with pytest.raises(InputError, match=message):
        find_binding_sites(context(backend, profile), **kwargs)
    assert backend.history == []


def test_a_sequence_with_a_nonstandard_letter_is_an_encode_error(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="'X' at position 3"):
        find_binding_sites(context(ScriptedBackend(["x"]), profile), sequence="MKXT")


class _ScriptedWithContext(ScriptedBackend):
    """The scripted backend reporting a context size, as a loaded llama.cpp model does."""

    @property
    def info(self) -> BackendInfo:
        return BackendInfo(
            backend="fake", model_name="scripted", model_path=None, sha256=None, is_demo=False, n_ctx=512
        )


def test_auto_answer_length_is_capped_by_the_model_context(profile: Profile) -> None:
    sequence = "ACDEFGHIKLMNPQRSTVWY" * 10  # 200 residues: estimate 3 * 200 + 1 = 601
    backend = _ScriptedWithContext([answer(sequence, [], profile)])
    result = find_binding_sites(context(backend, profile), sequence=sequence, num_samples=1)
    assert backend.history[0].max_new_tokens == 512 - (200 + 8)
    assert result.run.valid == 1


def test_unconstrained_answers_budget_four_tokens_for_a_quarter_of_the_residues(profile: Profile) -> None:
    backend = ScriptedBackend([answer(SEQUENCE, [1], profile)])
    find_binding_sites(context(backend, profile), sequence=SEQUENCE, num_samples=1, constrained=False)
    assert backend.history[0].max_new_tokens == len(SEQUENCE) + 4 * 32 + 1


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend([answer(SEQUENCE, [1], profile)])
    result = find_binding_sites(context(backend, profile, budget=0.0), sequence=SEQUENCE)
    assert result.run.partial is True
    assert result.run.partial_reason == "time budget"
    assert result.run.samples_drawn == 0
    assert (result.pocket_sets, result.sites, result.consensus) == ([], [], [])
    assert BindingSiteResult.model_validate_json(result.model_dump_json()) == result


def test_demo_model_answers_are_all_accounted_for_and_seeds_repeat(
    demo_backend: object, profile: Profile
) -> None:
    backend = cast(Backend, demo_backend)

    def run() -> BindingSiteResult:
        return find_binding_sites(
            context(backend, profile, budget=None),
            structure=HIV_PROTEASE,
            chain="A",
            num_samples=6,
            sampling=SamplingOptions(seed=11),
        )

    first, second = run(), run()
    assert first.model.is_demo is True
    assert first.run.samples_drawn == 6
    assert first.run.valid + first.run.invalid == 6
    assert sum(s.count for s in first.pocket_sets) == first.run.valid
    assert len({tuple(s.positions) for s in first.pocket_sets}) == len(first.pocket_sets)
    assert len(first.invalid_samples) == first.run.invalid
    assert all(sample.reason for sample in first.invalid_samples)
    assert first.divergences == []  # the grammar lets the model copy the input only
    assert first.sampling.constrained is True
    assert [s.positions for s in first.pocket_sets] == [s.positions for s in second.pocket_sets]
    assert [s.text for s in first.invalid_samples] == [s.text for s in second.invalid_samples]
