import json

import pytest

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.reaction import (
    build_forward_prompt,
    build_retrosynthesis_prompt,
    decode_molecule_set,
    decode_reaction,
    encode_reaction,
    parse_reaction_smiles,
)
from logos_tools.shipped import grammar_dir

GOLDEN = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "reactions.jsonl").read_text("utf-8").splitlines()
]
ESTER = "CC(=O)O.OCC>>CC(=O)OCC"


def test_retrosynthesis_prompt_follows_the_profile_template(profile: Profile) -> None:
    assert (
        build_retrosynthesis_prompt("O=C(C)OCC", profile) == "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact>"
    )


def test_forward_prompt_writes_one_block_per_reactant(profile: Profile) -> None:
    assert (
        build_forward_prompt(["OC(C)=O", "OCC"], profile)
        == "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE><React>"
    )


def test_reaction_smiles_split_into_molecules_with_canonical_sets(profile: Profile) -> None:
    reaction = parse_reaction_smiles(ESTER, profile)
    assert reaction.reactants == ("CC(=O)O", "OCC")
    assert reaction.product_set == frozenset({"CCOC(C)=O"})
    assert reaction.to_dict()["reactant_set"] == ["CC(=O)O", "CCO"]


def test_atom_mapped_reaction_smiles_compare_equal_to_plain_ones(profile: Profile) -> None:
    mapped = parse_reaction_smiles(
        "[CH3:1][C:2](=[O:3])[OH:4].[OH:5][CH2:6][CH3:7]>>[CH3:1][C:2](=[O:3])[O:5][CH2:6][CH3:7]"
    )
    assert mapped.reactant_set == parse_reaction_smiles(ESTER, profile).reactant_set


def test_encode_reaction_writes_training_text_in_both_directions(profile: Profile) -> None:
    reaction = parse_reaction_smiles(ESTER, profile)
    retro = encode_reaction(reaction.reactants, reaction.products, "retro", profile)
    forward = encode_reaction(reaction.reactants, reaction.products, "forward", profile)
    assert retro == (
        "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact><MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>"
    )
    assert forward == (
        "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE><React><MoleculeS>CCOC(C)=O<MoleculeE>"
    )
    for text in (retro, forward):
        decoded = decode_reaction(text, profile)
        assert (decoded.reactant_set, decoded.product_set) == (reaction.reactant_set, reaction.product_set)
    assert decode_reaction(retro, profile).direction == "retro"
    assert decode_reaction(forward, profile).to_dict()["direction"] == "forward"


def test_reagents_become_reactants_only_when_the_profile_allows_them(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="reaction_reagents = false"):
        parse_reaction_smiles("CC(=O)O.OCC>OS(=O)(=O)O>CC(=O)OCC", profile)
    allowing = profile.model_copy(
        update={"unpublished": profile.unpublished.model_copy(update={"reaction_reagents": True})}
    )
    reaction = parse_reaction_smiles("CC(=O)O.OCC>OS(=O)(=O)O>CC(=O)OCC", allowing)
    assert "O=S(=O)(O)O" in reaction.reactant_set


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("CC(=O)OCC", "must have the form 'reactants>>products'"),
        ("CC>>", "has no products"),
        (">>CC", "has no reactants"),
        ("C..O>>CO", "empty reactant between dots"),
        ("C1CC.O>>C", "reactant 1 SMILES 'C1CC' is invalid: unclosed ring"),
        ("C.O>>C(C)(C)(C)(C)C", "product 1 SMILES 'C(C)(C)(C)(C)C' is invalid"),
        ("C<MoleculeE>>>C", "must not contain LOGOS tags"),
        ("A>>B>>C", "must have the form"),
    ],
)
def test_malformed_reaction_smiles_raise_encode_error_naming_the_value(
    profile: Profile, value: str, problem: str
) -> None:
    with pytest.raises(EncodeError) as info:
        parse_reaction_smiles(value, profile)
    assert problem in str(info.value)


def test_retrosynthesis_takes_exactly_one_product(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="takes one product, got 2"):
        encode_reaction(["CCO"], ["CC", "O"], "retro", profile)


@pytest.mark.parametrize(
    ("reactants", "direction", "problem"),
    [
        ("CCO", "forward", "must be a list of SMILES"),
        ([], "forward", "No reactants given"),
        (["CCO"], "sideways", "direction 'sideways' is unknown"),
    ],
)
def test_encode_reaction_rejects_bad_arguments(
    profile: Profile, reactants: list[str] | str, direction: str, problem: str
) -> None:
    with pytest.raises(EncodeError, match=problem):
        encode_reaction(reactants, ["CC"], direction, profile)  # type: ignore[arg-type]


def test_answer_set_ignores_order_and_collapses_duplicates(profile: Profile) -> None:
    first = decode_molecule_set("<MoleculeS>OCC<MoleculeE><MoleculeS>CC(=O)O<MoleculeE>", profile)
    second = decode_molecule_set(
        "<MoleculeS>OC(C)=O<MoleculeE><MoleculeS>CCO<MoleculeE><MoleculeS>C(C)O<MoleculeE>", profile
    )
    assert first.molecules == second.molecules == frozenset({"CCO", "CC(=O)O"})
    assert first.valid
    assert second.valid


def test_answer_keeps_invalid_truncated_and_stray_parts_as_data(profile: Profile) -> None:
    answer = decode_molecule_set(
        "<MoleculeS>OCC<MoleculeE><MoleculeS>C1C<MoleculeE> junk <MoleculeS>c1cc<|end_of_text|>more", profile
    )
    assert answer.molecules == frozenset({"CCO"})
    assert [check.input for check in answer.invalid] == ["C1C"]
    assert answer.truncated
    assert answer.truncated_text == "c1cc"
    assert answer.stray == (" junk ",)
    assert answer.ended_by == "<|end_of_text|>"
    assert not answer.valid
    assert json.loads(json.dumps(answer.to_dict()))["invalid"][0]["valid"] is False


def test_answer_reports_blocks_of_other_kinds_and_task_tokens(profile: Profile) -> None:
    answer = decode_molecule_set("<MoleculeS>C<MoleculeE><ProteinS>MK<ProteinE><React>", profile)
    assert answer.unexpected == ("protein block at position 23", "task token <React> at position 45")
    assert not answer.valid


def test_empty_answer_is_invalid_with_no_molecules(profile: Profile) -> None:
    answer = decode_molecule_set("", profile)
    assert (answer.molecules, answer.valid, answer.truncated) == (frozenset(), False, False)


def test_structurally_broken_answer_raises_decode_error_with_position(profile: Profile) -> None:
    with pytest.raises(DecodeError) as info:
        decode_molecule_set("<MoleculeS>C<MoleculeE><MoleculeE>", profile)
    assert info.value.position == 23


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("<MoleculeS>C<MoleculeE><MoleculeS>O<MoleculeE>", 0, "found none"),
        (
            "<MoleculeS>C<MoleculeE><ReverseReact><MoleculeS>O<MoleculeE><React><MoleculeS>O<MoleculeE>",
            60,
            "exactly one",
        ),
        ("<ReverseReact><MoleculeS>O<MoleculeE>", 0, "no product molecule block"),
        ("<MoleculeS>C<MoleculeE><ReverseReact>", 0, "no reactant molecule block"),
        ("<MoleculeS>C<MoleculeE><ReverseReact><MoleculeS>C1C<MoleculeE>", 48, "unclosed ring"),
        ("<MoleculeS>C<MoleculeE><ReverseReact><MoleculeS>CC", 50, "truncated"),
        ("<MoleculeS>C<MoleculeE>x<ReverseReact><MoleculeS>CC<MoleculeE>", 23, "Stray text 'x'"),
        ("<MoleculeS>C<MoleculeE><Search><MoleculeS>CC<MoleculeE>", 23, "exactly one of <ReverseReact>"),
    ],
)
def test_decode_reaction_is_strict_and_reports_the_position(
    profile: Profile, text: str, position: int, problem: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_reaction(text, profile)
    assert info.value.position == position
    assert problem in str(info.value)


@pytest.mark.parametrize("record", GOLDEN, ids=[f"{r['template']}-{i}" for i, r in enumerate(GOLDEN)])
def test_golden_reactions_round_trip_in_both_directions(
    profile: Profile, record: dict[str, list[str] | str]
) -> None:
    reactants, products = frozenset(record["reactants"]), frozenset(record["products"])
    retro, forward = str(record["retro_text"]), str(record["forward_text"])
    assert decode_reaction(retro, profile).reactant_set == reactants
    assert decode_reaction(forward, profile).product_set == products
    answer = retro.split("<ReverseReact>", 1)[1]
    assert decode_molecule_set(answer, profile).molecules == reactants
    product = next(iter(products))
    assert retro.startswith(build_retrosynthesis_prompt(product, profile))
    assert forward.startswith(build_forward_prompt(list(record["reactants"]), profile))
