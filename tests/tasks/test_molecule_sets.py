import math

from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import FinishReason, Sample
from logos_tools.tasks.common import Drawn
from logos_tools.tasks.molecule_sets import element_counts, excess_heavy_atoms, group_molecule_sets


def sample(text: str, logprob: float = -0.5, finish: FinishReason = "stop") -> Sample:
    return Sample(
        text=text, token_ids=[1, 2], finish_reason=finish, logprobs=[logprob, logprob], stop_tag="eos"
    )


def test_equal_canonical_sets_are_one_candidate_ranked_by_count_then_log_probability(
    profile: Profile,
) -> None:
    drawn = Drawn(
        samples=[
            sample("<MoleculeS>CCO<MoleculeE>", -1.0),
            sample("<MoleculeS>OCC<MoleculeE>", -1.0),
            sample("<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>N<MoleculeE>", -2.0),
            sample("<MoleculeS>N<MoleculeE><MoleculeS>OC(C)=O<MoleculeE>", -2.0),
            sample("<MoleculeS>c1ccccc1<MoleculeE>", -0.1),
            sample("<MoleculeS>CCCl<MoleculeE>", -3.0),
        ],
        prompt_logprobs=[-1.0, -1.0],
    )
    grouped = group_molecule_sets(drawn, profile)
    assert [sorted(c.molecules) for c in grouped.ranked] == [
        ["CCO"],
        ["CC(=O)O", "N"],
        ["c1ccccc1"],
        ["CCCl"],
    ]
    assert [c.rank for c in grouped.ranked] == [1, 2, 3, 4]
    assert [c.count for c in grouped.ranked] == [2, 2, 1, 1]
    assert grouped.ranked[0].sample_indices == (0, 1)
    assert grouped.ranked[0].frequency == round(2 / 6, 4)
    assert grouped.ranked[0].mean_logprob == -1.0
    # whole-text perplexity: prompt and completion log-probs together
    assert grouped.ranked[2].best_perplexity == round(math.exp(-(-2.0 - 0.2) / 4), 4)
    assert grouped.valid == 6
    assert grouped.invalid == []


def test_every_unusable_sample_is_kept_with_its_reason(profile: Profile) -> None:
    drawn = Drawn(
        samples=[
            sample("<MoleculeS>C1CC<MoleculeE>"),
            sample("<MoleculeS>CCO"),
            sample("<MoleculeE>"),
            sample("<ProteinS>MKT<ProteinE>"),
            sample("no blocks at all"),
            sample("<MoleculeS>CCO<MoleculeE>", finish="deadline"),
            sample("<MoleculeS>CCN<MoleculeE>"),
            sample("<MoleculeS>CCO", finish="length"),
        ]
    )
    grouped = group_molecule_sets(drawn, profile, reject=lambda m: "repeats" if m == {"CCN"} else None)
    reasons = {s.index: s.reason for s in grouped.invalid}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert "unclosed ring" in reasons[0]
    # An open block is "truncated" only when the token limit cut it, not when the model ended the text.
    assert reasons[1] == "the model ended the text before closing its last molecule block with <MoleculeE>"
    assert reasons[7] == "the last molecule block has no end tag (truncated)"
    assert "position 0" in reasons[2]
    assert "protein block" in reasons[3]
    assert reasons[4] == "no molecule block in the answer"
    assert "time budget" in reasons[5]
    assert reasons[6] == "repeats"
    assert grouped.ranked == []
    assert grouped.valid == 0


def test_a_sample_cut_by_the_token_limit_after_complete_blocks_still_counts(profile: Profile) -> None:
    drawn = Drawn(samples=[sample("<MoleculeS>CCO<MoleculeE>", finish="length")])
    assert group_molecule_sets(drawn, profile).valid == 1


def test_excess_heavy_atoms_counts_what_the_source_cannot_supply() -> None:
    assert element_counts(["CCO", "[NH4+]", "[2H]C"]) == {"C": 3, "O": 1, "N": 1}
    assert excess_heavy_atoms(["ClCCl"], ["CCO"]) == {"Cl": 2}
    assert excess_heavy_atoms(["CCOC(C)=O", "O"], ["CC(=O)O", "OCC"]) == {}
    assert excess_heavy_atoms(["CCCC"], ["CC"]) == {"C": 2}
