import pytest

from logos_tools.errors import InputError
from logos_tools.grammar.gbnf import load_gbnf
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.completion import complete_grammar


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_the_prompt_stop_and_limits_go_to_the_backend_unchanged(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>CC<MoleculeE>"])
    prompt = "<MoleculeS>CCO<MoleculeE><ReverseReact>"
    result = complete_grammar(
        context(backend, profile), prompt, num_samples=3, max_new_tokens=40, sampling=SamplingOptions(seed=8)
    )
    (request,) = backend.history
    assert (request.prompt, request.stop, request.n, request.max_new_tokens) == (prompt, ("eos",), 3, 40)
    assert (request.grammar, request.sampling.seed, request.sampling.temperature) == (None, 8, 1.2)
    assert (result.stop, result.grammar, result.sampling.constrained) == (["eos"], None, False)


def test_a_shipped_grammar_name_sends_that_grammar_and_gbnf_text_is_sent_as_given(profile: Profile) -> None:
    backend = ScriptedBackend(["CCO<MoleculeE>"])
    result = complete_grammar(
        context(backend, profile), "<MoleculeS>", stop=["<MoleculeE>"], grammar="molecule_block"
    )
    assert backend.history[0].grammar == load_gbnf("molecule_block", profile)
    assert backend.history[0].stop == ("<MoleculeE>",)
    assert (result.grammar, result.sampling.constrained) == ("molecule_block", True)
    custom = 'root ::= [CNO]+ "<MoleculeE>"\n'
    result = complete_grammar(context(backend, profile), "<MoleculeS>", grammar=custom)
    assert backend.history[1].grammar == custom
    assert result.grammar == "custom"


def test_each_sample_is_decoded_into_typed_blocks_and_problems_are_kept_with_positions(
    profile: Profile,
) -> None:
    backend = ScriptedBackend(["OCC<MoleculeE>", "C1CC<MoleculeE>", "CCO<ProteinE>", "CC"])
    result = complete_grammar(context(backend, profile), "<MoleculeS>", num_samples=4)
    by_index = {s.index: s for s in result.samples}
    good = by_index[0]
    assert (good.valid, good.problems, good.error_position, good.rank) == (True, [], None, 1)
    assert good.decoded is not None
    (block,) = good.decoded["blocks"]
    assert (block["kind"], block["value"]["canonical"]) == ("molecule", "CCO")
    assert by_index[1].valid is False
    assert "unclosed ring" in by_index[1].problems[0]
    assert by_index[1].decoded is not None
    structural = by_index[2]
    assert (structural.valid, structural.decoded, structural.error_position) == (False, None, 14)
    assert "closes a protein block" in structural.problems[0]
    assert "truncated" in by_index[3].problems[0]
    assert sorted(s.index for s in result.invalid_samples) == [1, 2, 3]
    assert (result.run.valid, result.run.invalid) == (1, 3)


def test_several_problems_of_a_sample_join_into_one_reason_without_stray_periods(profile: Profile) -> None:
    backend = ScriptedBackend(["C1CC<MoleculeE>hello"])
    result = complete_grammar(context(backend, profile), "<MoleculeS>", num_samples=1)
    (sample,) = result.samples
    assert len(sample.problems) == 2
    (invalid,) = result.invalid_samples
    assert "unclosed ring" in invalid.reason
    assert "e.g. 'C1CC1'; Stray text 'hello' at position 26 outside any block" in invalid.reason
    assert ".;" not in invalid.reason


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "The prompt is empty"),
        ("Make me a molecule <MoleculeS>", r"text 'Make me a molecule ' at position 0 outside any block"),
        ("<MoleculeS>CCO<MoleculeE> <React>", r"text ' ' at position 25 outside any block"),
        ("<MoleculeS>CCO<MoleculeE>\n", "at position 25 outside any block"),
        ("<MoleculeE>", "not valid LOGOS grammar.*position 0"),
        ("<ProteinS>MK<MoleculeS>", "opens a molecule block inside a protein block"),
        ("<|begin_of_text|><MoleculeS>", "control string '<\\|begin_of_text\\|>' at position 0"),
        (
            "<MoleculeS>C1CC<MoleculeE><ReverseReact>",
            "molecule block at position 0 is invalid.*unclosed ring",
        ),
    ],
)
def test_a_prompt_that_is_not_grammar_is_rejected_with_its_position(
    profile: Profile, prompt: str, message: str
) -> None:
    backend = ScriptedBackend(["x"])
    with pytest.raises(InputError, match=message):
        complete_grammar(context(backend, profile), prompt)
    assert backend.history == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop": ["<Foo>"]}, "Stop tag '<Foo>' is not a tag"),
        ({"stop": []}, "non-empty list"),
        ({"grammar": "smiles please"}, "neither a shipped grammar"),
        ({"grammar": "root ::= ("}, "llama.cpp rejects the GBNF grammar"),
        ({"num_samples": 0}, "num_samples=0"),
        ({"max_new_tokens": 100000}, "max_new_tokens=100000"),
    ],
)
def test_bad_options_are_rejected_before_any_model_call(
    profile: Profile, kwargs: dict[str, object], message: str
) -> None:
    backend = ScriptedBackend(["x"])
    with pytest.raises(InputError, match=message):
        complete_grammar(context(backend, profile), "<MoleculeS>", **kwargs)  # type: ignore[arg-type]
    assert backend.history == []


def test_an_expired_time_budget_returns_a_partial_well_formed_result(profile: Profile) -> None:
    backend = ScriptedBackend(["CCO<MoleculeE>"])
    result = complete_grammar(context(backend, profile, budget=0.0), "<MoleculeS>", num_samples=2)
    assert (result.run.partial, result.run.partial_reason, result.samples) == (True, "time budget", [])


def test_the_demo_model_completes_grammar_and_every_sample_is_accounted_for(
    demo_backend: Backend, profile: Profile
) -> None:
    for grammar in (None, "molecule_block"):
        result = complete_grammar(
            context(demo_backend, profile, budget=None),
            "<MoleculeS>",
            num_samples=6,
            max_new_tokens=64,
            stop=["<MoleculeE>"],
            grammar=grammar,
            sampling=SamplingOptions(seed=12),
        )
        assert result.model.is_demo is True
        assert len(result.samples) == 6
        assert result.run.valid == sum(s.valid for s in result.samples)
        assert len(result.invalid_samples) == result.run.invalid
        for sample in result.samples:
            assert sample.valid == (sample.problems == [])
            if sample.valid:
                assert sample.decoded is not None
                assert sample.decoded["blocks"][0]["kind"] == "molecule"
        assert result.sampling.constrained is (grammar is not None)
