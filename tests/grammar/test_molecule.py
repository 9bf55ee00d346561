import json
from datetime import timedelta

import pytest
import rdkit
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.molecule import (
    MAX_SMILES_LENGTH,
    SmilesCheck,
    canonical_smiles,
    check_smiles,
    decode_molecule,
    encode_molecule,
    parse_smiles,
)
from logos_tools.grammar.profile import Profile
from logos_tools.shipped import grammar_dir

GOLDEN = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "molecules.jsonl").read_text("utf-8").splitlines()
]


def _with(profile: Profile, **unpublished: str) -> Profile:
    return profile.model_copy(update={"unpublished": profile.unpublished.model_copy(update=unpublished)})


def test_aspirin_encodes_to_the_block_of_its_canonical_smiles(profile: Profile) -> None:
    assert encode_molecule("OC(=O)c1ccccc1OC(C)=O", profile) == "<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE>"


def test_canonical_form_keeps_stereo_charges_and_counter_ions_by_default(profile: Profile) -> None:
    assert canonical_smiles("N[C@@H](C)C(=O)O", profile) == "C[C@H](N)C(=O)O"
    assert canonical_smiles("[Na+].[O-]C(=O)C", profile) == "CC(=O)[O-].[Na+]"


def test_strip_stereo_profile_removes_stereo_marks_only(profile: Profile) -> None:
    stripped = _with(profile, smiles_stereo="strip_stereo")
    assert canonical_smiles("N[C@@H](C)C(=O)[O-]", stripped) == "CC(N)C(=O)[O-]"
    assert canonical_smiles("F/C=C/F", stripped) == "FC=CF"


def test_as_given_profile_writes_the_users_smiles_after_checking_it(profile: Profile) -> None:
    as_given = _with(profile, prompt_smiles="as_given")
    assert encode_molecule(" OCC ", as_given) == "<MoleculeS>OCC<MoleculeE>"
    with pytest.raises(EncodeError, match="unclosed ring"):
        encode_molecule("C1CC", as_given)


def test_as_given_with_strip_stereo_keeps_the_atom_order_but_drops_stereo(profile: Profile) -> None:
    both = _with(profile, prompt_smiles="as_given", smiles_stereo="strip_stereo")
    assert encode_molecule("N[C@@H](C)C(=O)O", both) == "<MoleculeS>NC(C)C(=O)O<MoleculeE>"


def test_atom_maps_are_removed_from_the_canonical_form(profile: Profile) -> None:
    assert canonical_smiles("[CH3:1][OH:2]", profile) == "CO"


def test_explicit_hydrogen_atoms_become_implicit_as_rdkit_reads_them(profile: Profile) -> None:
    assert canonical_smiles("[H]OC([H])([H])[H]", profile) == "CO"
    assert canonical_smiles("[2H]C", profile) == "[2H]C"  # isotopes are kept


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("C1CC", "unclosed ring"),
        ("CC(C", "extra open parentheses (around position 3)"),
        ("CC)C", "extra close parentheses"),
        ("C(C)(C)(C)(C)C", "Explicit valence for atom # 0 C, 5"),
        ("c1cccc1", "Can't kekulize mol"),
        ("Xx", "syntax error"),
        ("CC O", "whitespace at position 2"),
        ("CC>>O", "looks like a reaction SMILES"),
        ("C<MoleculeE>O", "must not contain LOGOS tags"),
        ("CC<|eot_id|>", "must not contain LOGOS tags"),
        ("C" * (MAX_SMILES_LENGTH + 1), f"more than the limit of {MAX_SMILES_LENGTH}"),
    ],
)
def test_malformed_smiles_raise_encode_error_naming_the_value_and_problem(value: str, problem: str) -> None:
    with pytest.raises(EncodeError) as info:
        parse_smiles(value)
    message = str(info.value)
    assert problem in message
    assert value[:40] in message


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_empty_smiles_are_rejected(value: str) -> None:
    with pytest.raises(EncodeError, match="is empty"):
        parse_smiles(value)


def test_errors_carry_a_fix_hint() -> None:
    with pytest.raises(EncodeError, match=r"Close every ring-bond digit you open, e.g. 'C1CC1'"):
        parse_smiles("C1CC")


def test_the_caller_names_the_value_in_messages() -> None:
    with pytest.raises(EncodeError, match=r"^product SMILES 'C1CC' is invalid"):
        parse_smiles("C1CC", what="product SMILES")


def test_rdkit_prints_nothing_while_rejecting_smiles(capfd: pytest.CaptureFixture[str]) -> None:
    for value in ("C1CC", "c1cccc1", "C(C)(C)(C)(C)C", "F/C=C/C=C/C(/F)"):
        check_smiles(value)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_check_smiles_reports_bad_chemistry_as_data() -> None:
    verdict = check_smiles("C1CC")
    assert verdict == SmilesCheck(input="C1CC", valid=False, canonical=None, reason=verdict.reason)
    assert verdict.reason is not None
    assert "unclosed ring" in verdict.reason
    assert check_smiles("OCC").to_dict() == {
        "input": "OCC",
        "valid": True,
        "canonical": "CCO",
        "reason": None,
    }


def test_decode_molecule_returns_smiles_canonical_form_and_rdkit_molecule(profile: Profile) -> None:
    decoded = decode_molecule("<MoleculeS>OCC<MoleculeE>\n", profile)
    assert (decoded.smiles, decoded.canonical, decoded.mol.GetNumAtoms()) == ("OCC", "CCO", 3)
    assert decoded.to_dict()["formula"] == "C2H6O"


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("<MoleculeS>CCO", 14, "truncated"),
        ("x<MoleculeS>C<MoleculeE>", 0, "found 'x'"),
        ("<MoleculeS>C<MoleculeE><MoleculeS>C<MoleculeE>", 23, "found molecule, molecule"),
        ("<MoleculeS>C1C<MoleculeE>", 11, "'C1C' is invalid: unclosed ring"),
        ("<ProteinS>MK<ProteinE>", 0, "found protein"),
        ("", 0, "found no block"),
        ("<MoleculeS>C<MoleculeE><ReverseReact>", 23, "found <ReverseReact>"),
    ],
)
def test_decode_molecule_is_strict_and_reports_the_position(
    profile: Profile, text: str, position: int, problem: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_molecule(text, profile)
    assert info.value.position == position
    assert problem in str(info.value)


@pytest.mark.parametrize("record", GOLDEN, ids=[r["source"] for r in GOLDEN])
def test_golden_molecules_round_trip_to_the_same_canonical_smiles(
    profile: Profile, record: dict[str, str]
) -> None:
    decoded = decode_molecule(record["block"], profile)
    assert decoded.canonical == canonical_smiles(record["smiles"], profile)
    # The same canonical form as the LOGOS evaluation code (RDKit defaults) computes.
    assert decoded.canonical == Chem.MolToSmiles(Chem.MolFromSmiles(record["smiles"]))
    assert canonical_smiles(record["canonical"], profile) == decoded.canonical
    if record["rdkit"] == rdkit.__version__:  # canonical text is RDKit-version specific
        assert encode_molecule(record["smiles"], profile) == record["block"]
        assert decoded.canonical == record["canonical"]


@settings(max_examples=150, deadline=timedelta(seconds=5))
@given(record=st.sampled_from(GOLDEN))
def test_canonical_smiles_round_trip_through_the_block(profile: Profile, record: dict[str, str]) -> None:
    canonical = canonical_smiles(record["smiles"], profile)
    block = encode_molecule(canonical, profile)
    assert decode_molecule(block, profile).canonical == canonical
    assert canonical_smiles(canonical, profile) == canonical


@settings(max_examples=300, deadline=timedelta(seconds=5))
@given(value=st.text(alphabet="CNOcnos()[]=#123456789+-@/\\.%HBrClF ", max_size=40))
def test_check_smiles_never_raises_on_arbitrary_smiles_text(value: str) -> None:
    verdict = check_smiles(value)
    assert verdict.valid == (verdict.canonical is not None) == (verdict.reason is None)
