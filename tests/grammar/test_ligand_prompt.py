import json
from pathlib import Path
from typing import Any

import pytest

from logos_tools.errors import EncodeError
from logos_tools.grammar.ligand_prompt import (
    LigandPromptVariant,
    build_ligand_prompt,
    encode_complex,
)
from logos_tools.grammar.pocket import decode_pocket_protein
from logos_tools.grammar.pocket_smiles import decode_expanded_pocket
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.grammar.protein import decode_protein
from logos_tools.shipped import grammar_dir

GOLDEN: list[dict[str, Any]] = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "pockets.jsonl").read_text("utf-8").splitlines()
]
HIV = next(r for r in GOLDEN if r["file"] == "1hvr.pdb" and r["chain"] == "A" and r["cutoff"] == 6.0)
LEU = "CC(C)C[C@H](N)C(=O)O"


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("plain", "<ProteinS>MKTLAV<ProteinE><MoleculeS>"),
        ("letter", "<ProteinS>MKT<PocketS>L<PocketE>AV<ProteinE><MoleculeS>"),
        ("smiles", f"<ProteinS>MKT<PocketS>{LEU}<PocketE>AV<ProteinE><MoleculeS>"),
    ],
)
def test_each_variant_writes_its_protein_form_then_the_tail(
    profile: Profile, variant: LigandPromptVariant, expected: str
) -> None:
    assert build_ligand_prompt("MKTLAV", [3], profile, variant=variant) == expected


def test_default_variant_comes_from_the_profile(profile: Profile) -> None:
    assert profile.unpublished.ligand_prompt_variant == "letter"
    assert build_ligand_prompt("MKTLAV", [3], profile) == build_ligand_prompt(
        "MKTLAV", [3], profile, variant="letter"
    )


@pytest.mark.parametrize("variant", ["plain", "letter", "smiles"])
def test_prompt_is_the_start_of_the_complex_text(profile: Profile, variant: LigandPromptVariant) -> None:
    prompt = build_ligand_prompt(HIV["sequence"], HIV["positions"], profile, variant=variant)
    complex_text = encode_complex(
        HIV["sequence"], HIV["positions"], "OC(=O)c1ccccc1OC(C)=O", variant, profile
    )
    assert complex_text.startswith(prompt)
    assert complex_text.endswith("<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE>")


def test_protein_part_of_each_variant_decodes_back_to_the_pocket(profile: Profile) -> None:
    sequence, positions = HIV["sequence"], HIV["positions"]
    tail = "<MoleculeS>"
    plain = build_ligand_prompt(sequence, positions, profile, variant="plain").removesuffix(tail)
    letter = build_ligand_prompt(sequence, positions, profile, variant="letter").removesuffix(tail)
    smiles = build_ligand_prompt(sequence, positions, profile, variant="smiles").removesuffix(tail)
    assert decode_protein(plain, profile).sequence == sequence
    assert letter == HIV["marked"]
    assert list(decode_expanded_pocket(smiles, profile).positions) == positions
    assert decode_pocket_protein(letter, profile) == decode_expanded_pocket(smiles, profile)


def test_an_empty_tail_ends_the_prompt_at_the_protein(tmp_path: Path) -> None:
    text = (grammar_dir() / "logos-v1.toml").read_text(encoding="utf-8")
    path = tmp_path / "no-tail.toml"
    path.write_text(
        text.replace('ligand_prompt_tail = "<MoleculeS>"', 'ligand_prompt_tail = ""'), encoding="utf-8"
    )
    edited = load_profile(str(path))
    assert build_ligand_prompt("MKTLAV", [3], edited) == "<ProteinS>MKT<PocketS>L<PocketE>AV<ProteinE>"


@pytest.mark.parametrize(
    ("variant", "positions", "ligand", "fragment"),
    [
        ("letter", [], "CCO", "no pocket position was given"),
        ("smiles", [], "CCO", "no pocket position was given"),
        ("plain", [6], "CCO", "Pocket position 6 is outside"),
        ("letter", [1, 1], "CCO", "Pocket position 1 is given twice"),
        ("letter", [1], "C1CC", "'C1CC'"),
        ("cartoon", [1], "CCO", "variant 'cartoon' is unknown"),
    ],
)
def test_bad_complexes_are_rejected_naming_the_value(
    profile: Profile, variant: Any, positions: list[int], ligand: str, fragment: str
) -> None:
    with pytest.raises(EncodeError) as info:
        encode_complex("MKTLAV", positions, ligand, variant, profile)
    assert fragment in str(info.value)


def test_plain_variant_needs_no_pocket(profile: Profile) -> None:
    text = encode_complex("MKTLAV", [], "CCO", "plain", profile)
    assert text == "<ProteinS>MKTLAV<ProteinE><MoleculeS>CCO<MoleculeE>"
