import math

import pytest

from logos_tools.errors import InputError
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import TaskContext
from logos_tools.tasks.scoring import MaterialValue, ScoreItem, score_objects

ESTER_PROMPT = "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE><React>"
MOF5 = (
    "<MaterialS><MetalS>[Zn][O]([Zn])([Zn])[Zn]<MetalE><MoleculeS>O=C(O)c1ccc(C(=O)O)cc1<MoleculeE>"
    "<MaterialE>"
)


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_each_kind_is_encoded_through_the_grammar_and_reactions_split_at_the_task_token(
    profile: Profile,
) -> None:
    backend = ScriptedBackend([])
    result = score_objects(
        context(backend, profile),
        [
            ScoreItem(kind="molecule", value="OCC"),
            {"kind": "protein", "value": "mkt ay"},
            {"kind": "antibody", "value": "EVQLVE"},
            ScoreItem(
                kind="material",
                value=MaterialValue(node="[Zn][O]([Zn])([Zn])[Zn]", linkers=["OC(=O)c1ccc(C(=O)O)cc1"]),
            ),
            {"kind": "reaction", "value": "OC(C)=O.OCC>>CCOC(C)=O"},
            {"kind": "reaction", "value": "OC(C)=O.OCC>>CCOC(C)=O", "direction": "retro"},
            {"kind": "text", "value": "<MoleculeS>CCO<MoleculeE><ReverseReact><MoleculeS>CC<MoleculeE>"},
        ],
    )
    assert backend.scored == [
        ("", "<MoleculeS>CCO<MoleculeE>"),
        ("", "<ProteinS>MKTAY<ProteinE>"),
        ("", "<AntibodyS>EVQLVE<AntibodyE>"),
        ("", MOF5),
        (ESTER_PROMPT, "<MoleculeS>CCOC(C)=O<MoleculeE>"),
        (
            "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact>",
            "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>",
        ),
        ("<MoleculeS>CCO<MoleculeE><ReverseReact>", "<MoleculeS>CC<MoleculeE>"),
    ]
    by_index = {score.index: score for score in result.scores}
    assert (by_index[0].smiles, by_index[1].sequence, by_index[2].sequence) == ("CCO", "MKTAY", "EVQLVE")
    assert by_index[0].answer_perplexity is None
    reaction = by_index[4]
    assert reaction.text == ESTER_PROMPT + "<MoleculeS>CCOC(C)=O<MoleculeE>"
    # the fake gives one token per character and -0.1 per predicted token
    assert reaction.tokens == len(reaction.text)
    assert reaction.total_logprob == pytest.approx(-0.1 * (len(reaction.text) - 1))
    assert reaction.perplexity == pytest.approx(math.exp(0.1))
    assert reaction.answer_tokens == len("<MoleculeS>CCOC(C)=O<MoleculeE>")
    assert reaction.answer_perplexity == pytest.approx(math.exp(0.1))
    assert by_index[6].answer_tokens == len("<MoleculeS>CC<MoleculeE>")
    assert [s.rank for s in result.scores] == list(range(1, 8))
    assert result.unscored == []
    assert (result.run.samples_requested, result.run.valid, result.run.generated_tokens) == (7, 7, 0)
    assert (result.sampling.temperature, result.sampling.top_p, result.sampling.top_k) == (1.0, 1.0, 0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"kind": "molecule", "value": "C1CC"}, r"Object 1 \(molecule 'C1CC'\) is invalid: .*unclosed ring"),
        ({"kind": "protein", "value": "MKZ"}, r"Object 1 \(protein 'MKZ'\).*'Z' at position 3"),
        ({"kind": "reaction", "value": "CCO"}, r"Object 1 \(reaction 'CCO'\).*'reactants>>products'"),
        (
            {"kind": "reaction", "value": "CC.O>>C.CO", "direction": "retro"},
            r"Object 1.*Retrosynthesis takes one product",
        ),
        ({"kind": "material", "value": "[Zn]"}, r"Object 1.*\{'node': SMILES"),
        ({"kind": "material", "value": {"node": "CC", "linkers": ["CCO"]}}, r"Object 1.*node_has_metal"),
        ({"kind": "text", "value": "hello <MoleculeS>C<MoleculeE>"}, r"Object 1 \(text .*Stray text 'hello'"),
        ({"kind": "text", "value": "<MoleculeS>C<ProteinE>"}, r"Object 1.*position 12"),
        ({"kind": "molecule", "value": "CCO", "direction": "retro"}, "applies to reactions only"),
        ({"kind": "dna", "value": "ACGT"}, r"Object 1 .* is not a score item: kind"),
        ({"value": "CCO"}, r"Object 1 .*kind: Field required"),
    ],
)
def test_a_bad_object_fails_the_whole_call_before_any_scoring(
    profile: Profile, bad: dict[str, object], message: str
) -> None:
    backend = ScriptedBackend([])
    with pytest.raises(InputError, match=message):
        score_objects(context(backend, profile), [{"kind": "molecule", "value": "CCO"}, bad])
    assert backend.scored == []


@pytest.mark.parametrize(
    "text",
    ["", "hello <MoleculeS>C<MoleculeE>", "<MoleculeS>C1CC<MoleculeE>", "<MoleculeS>CCO"],
)
def test_grammar_text_problems_are_quoted_without_a_doubled_period(profile: Profile, text: str) -> None:
    with pytest.raises(InputError, match="the grammar text has problems") as caught:
        score_objects(context(ScriptedBackend([]), profile), [{"kind": "text", "value": text}])
    message = str(caught.value)
    assert ".." not in message.replace("...", "")
    assert ". Fix them, or score the object by its kind" in message


def test_an_empty_text_names_the_missing_block_in_one_sentence(profile: Profile) -> None:
    with pytest.raises(InputError) as caught:
        score_objects(context(ScriptedBackend([]), profile), [{"kind": "text", "value": ""}])
    assert "e.g. <MoleculeS>CCO<MoleculeE>. Fix them, or score" in str(caught.value)


def test_an_empty_or_non_list_input_is_rejected(profile: Profile) -> None:
    ctx = context(ScriptedBackend([]), profile)
    with pytest.raises(InputError, match="non-empty list"):
        score_objects(ctx, [])
    with pytest.raises(InputError, match="non-empty list"):
        score_objects(ctx, {"kind": "molecule", "value": "CCO"})  # type: ignore[arg-type]


def test_an_expired_time_budget_leaves_every_object_unscored(profile: Profile) -> None:
    backend = ScriptedBackend([])
    result = score_objects(
        context(backend, profile, budget=0.0),
        [{"kind": "molecule", "value": "CCO"}, {"kind": "molecule", "value": "CCN"}],
    )
    assert (result.scores, result.unscored) == ([], [0, 1])
    assert result.run.partial is True
    assert "time budget" in (result.run.partial_reason or "")


def test_the_demo_model_scores_objects_and_ranks_them_by_perplexity(
    demo_backend: Backend, profile: Profile
) -> None:
    objects = [
        {"kind": "molecule", "value": "CCO"},
        {"kind": "molecule", "value": "c1ccccc1C(=O)O"},
        {"kind": "protein", "value": "MKTAYIAKQR"},
        {"kind": "reaction", "value": "CC(=O)O.OCC>>CCOC(C)=O"},
    ]
    result = score_objects(context(demo_backend, profile, budget=None), objects)
    assert result.model.is_demo is True
    assert sorted(s.index for s in result.scores) == [0, 1, 2, 3]
    ppls = [s.perplexity for s in result.scores]
    assert all(p is not None for p in ppls)
    assert ppls == sorted(ppls)  # type: ignore[type-var]
    for score in result.scores:
        assert score.perplexity == pytest.approx(
            math.exp(-score.total_logprob / (score.tokens - 1)), rel=1e-4
        )
    reaction = next(s for s in result.scores if s.kind == "reaction")
    assert reaction.answer_tokens is not None
    assert 0 < reaction.answer_tokens < reaction.tokens
    again = score_objects(context(demo_backend, profile, budget=None), objects[:1])
    first = next(s for s in result.scores if s.index == 0)
    assert again.scores[0].total_logprob == pytest.approx(first.total_logprob, abs=1e-4)
