import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

from logos_tools.errors import DecodeError, EncodeError, ProfileError
from logos_tools.grammar.pocket import PocketProtein, decode_pocket_protein
from logos_tools.grammar.pocket_smiles import (
    build_trans_prompt,
    decode_expanded_pocket,
    expand_pocket,
    residue_letters_by_smiles,
)
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.grammar.protein import AMINO_ACIDS
from logos_tools.shipped import grammar_dir

GOLDEN: list[dict[str, Any]] = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "pockets.jsonl").read_text("utf-8").splitlines()
]
LEU = "CC(C)C[C@H](N)C(=O)O"
PHE = "N[C@@H](Cc1ccccc1)C(=O)O"


def _edited_profile(tmp_path: Path, old: str, new: str) -> Profile:
    text = (grammar_dir() / "logos-v1.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_profile(str(path))


def test_pocket_residues_are_written_as_their_table_smiles(profile: Profile) -> None:
    text = expand_pocket("MKTLAVFG", [3, 6], profile)
    assert text == f"<ProteinS>MKT<PocketS>{LEU}<PocketE>AV<PocketS>{PHE}<PocketE>G<ProteinE>"
    assert decode_expanded_pocket(text, profile) == PocketProtein("MKTLAVFG", (3, 6))


def test_every_table_entry_is_a_valid_molecule_that_maps_back_to_its_letter(profile: Profile) -> None:
    letters = residue_letters_by_smiles(profile)
    assert sorted(letters.values()) == sorted(AMINO_ACIDS)
    for letter, smiles in profile.residue_smiles.items():
        assert letters[Chem.MolToSmiles(Chem.MolFromSmiles(smiles))] == letter


@pytest.mark.parametrize("record", GOLDEN, ids=lambda r: f"{r['file']}-{r['chain']}-{r['cutoff']}")
def test_golden_pockets_round_trip_through_the_smiles_form(profile: Profile, record: dict[str, Any]) -> None:
    expanded = expand_pocket(record["sequence"], record["positions"], profile)
    decoded = decode_expanded_pocket(expanded, profile)
    assert decoded == decode_pocket_protein(record["marked"], profile)


@settings(deadline=None, max_examples=40)
@given(sequence=st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=80), data=st.data())
def test_decode_inverts_expand_for_any_pocket(profile: Profile, sequence: str, data: st.DataObject) -> None:
    positions = data.draw(st.sets(st.integers(0, len(sequence) - 1)))
    decoded = decode_expanded_pocket(expand_pocket(sequence, sorted(positions), profile), profile)
    assert decoded == PocketProtein(sequence, tuple(sorted(positions)))


def test_another_spelling_of_the_same_residue_decodes(profile: Profile) -> None:
    text = "<ProteinS>MK<PocketS>OC(=O)[C@@H](N)C<PocketE>G<ProteinE>"  # L-alanine written from the acid
    assert decode_expanded_pocket(text, profile) == PocketProtein("MKAG", (2,))


@pytest.mark.parametrize(
    ("smiles", "fragment"),
    [
        ("C[C@@H](N)C(=O)O", "none of the 20 residues"),  # D-alanine
        ("CCO", "none of the 20 residues"),
        ("C1CC", "not a valid SMILES"),
        ("", "not a valid SMILES"),
    ],
)
def test_unknown_or_invalid_pocket_smiles_is_a_decode_error_at_its_position(
    profile: Profile, smiles: str, fragment: str
) -> None:
    text = f"<ProteinS>MK<PocketS>{smiles}<PocketE>G<ProteinE>"
    with pytest.raises(DecodeError, match=fragment) as info:
        decode_expanded_pocket(text, profile)
    assert info.value.position == len("<ProteinS>MK<PocketS>")


def test_letters_outside_the_pocket_are_still_checked(profile: Profile) -> None:
    with pytest.raises(DecodeError) as info:
        decode_expanded_pocket(f"<ProteinS>MZ<PocketS>{LEU}<PocketE><ProteinE>", profile)
    assert info.value.position == 11


def test_trans_prompt_follows_the_profile_template(profile: Profile) -> None:
    prompt = build_trans_prompt("MKTLAVFG", [3, 6], profile)
    assert prompt == "<ProteinS>MKT<PocketS>L<PocketE>AV<PocketS>F<PocketE>G<ProteinE><Trans><ProteinS>"
    with pytest.raises(EncodeError, match="Pocket position 9"):
        build_trans_prompt("MKTLAVFG", [9], profile)


def test_invalid_table_entry_is_a_profile_error_naming_the_residue(tmp_path: Path) -> None:
    edited = _edited_profile(
        tmp_path, 'W = "N[C@@H](Cc1c[nH]c2ccccc12)C(=O)O"', 'W = "N[C@@H](Cc1c[nH]c2ccccc1C(=O)O"'
    )
    with pytest.raises(ProfileError, match=r"residue_smiles\.W = .* not a valid SMILES"):
        expand_pocket("MKW", [2], edited)
    with pytest.raises(ProfileError, match=r"residue_smiles\.W"):
        decode_expanded_pocket("<ProteinS>MKW<ProteinE>", edited)


def test_two_residues_with_the_same_smiles_is_a_profile_error(tmp_path: Path) -> None:
    edited = _edited_profile(tmp_path, 'V = "CC(C)[C@H](N)C(=O)O"', 'V = "C[C@H](N)C(=O)O"')
    with pytest.raises(ProfileError, match=r"residue_smiles\.A and residue_smiles\.V are the same molecule"):
        expand_pocket("MKV", [2], edited)


def test_missing_table_entry_is_a_profile_error(tmp_path: Path) -> None:
    edited = _edited_profile(tmp_path, 'G = "NCC(=O)O"\n', "")
    with pytest.raises(ProfileError, match="lacks G"):
        expand_pocket("MKG", [0], edited)
