from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import Backend
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.tasks.common import SamplingOptions, TaskContext
from logos_tools.tasks.retrosynthesis import retrosynthesis


def context(backend: Backend, profile: Profile, budget: float | None = 45.0) -> TaskContext:
    return TaskContext(backend=backend, profile=profile, time_budget_s=budget)


def test_prompt_stop_and_count_follow_the_reference_template(profile: Profile) -> None:
    backend = ScriptedBackend(["<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>"])
    result = retrosynthesis(context(backend, profile), "O=C(C)OCC", sampling=SamplingOptions(seed=1))
    (request,) = backend.history
    assert request.prompt == "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact>"
    assert (request.stop, request.n, request.max_new_tokens, request.sampling.seed) == (("eos",), 32, 256, 1)
    assert result.product == "CCOC(C)=O"


def test_reactant_sets_are_grouped_ranked_and_checked_for_the_products_atoms(profile: Profile) -> None:
    backend = ScriptedBackend(
        [
            "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>",
            "<MoleculeS>OCC<MoleculeE><MoleculeS>OC(C)=O<MoleculeE>",
            "<MoleculeS>CC(=O)Cl<MoleculeE>",
            "<MoleculeS>CCOC(C)=O<MoleculeE>",
            "<MoleculeS>C1CC<MoleculeE>",
        ]
    )
    result = retrosynthesis(context(backend, profile), "CCOC(C)=O", num_samples=5)
    assert [[m.smiles for m in c.reactants] for c in result.candidates] == [["CC(=O)O", "CCO"], ["CC(=O)Cl"]]
    first, second = result.candidates
    assert (first.rank, first.count, first.frequency, first.atoms_accounted) == (1, 2, 0.4, True)
    assert (second.atoms_accounted, second.missing_atoms) == (False, {"C": 2, "O": 1})
    reasons = {s.index: s.reason for s in result.invalid_samples}
    assert reasons[3] == "the answer contains the product itself"
    assert "unclosed ring" in reasons[4]
    assert (result.run.valid, result.run.invalid, result.validity) == (3, 2, 0.6)


def test_candidates_say_how_they_are_ranked_and_an_answer_ended_inside_a_block_is_not_called_truncated(
    profile: Profile,
) -> None:
    backend = ScriptedBackend(
        [
            "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>",
            "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CC",
        ]
    )
    result = retrosynthesis(context(backend, profile), "CCOC(C)=O", num_samples=2)
    assert "most often sampled" in result.ranking
    assert [(s.index, s.reason) for s in result.invalid_samples] == [
        (1, "the model ended the text before closing its last molecule block with <MoleculeE>")
    ]
