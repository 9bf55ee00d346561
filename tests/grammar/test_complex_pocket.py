import json
from pathlib import Path
from typing import Any

import pytest

from logos_tools.errors import InputError
from logos_tools.grammar.complex_pocket import pocket_from_complex
from logos_tools.grammar.pocket import decode_pocket_protein
from logos_tools.grammar.profile import Profile
from logos_tools.shipped import grammar_dir

FIXTURES = grammar_dir() / "fixtures"
STRUCTURES = FIXTURES / "structures"
GOLDEN: list[dict[str, Any]] = [
    json.loads(line) for line in (FIXTURES / "pockets.jsonl").read_text("utf-8").splitlines()
]


@pytest.mark.parametrize(
    "record", GOLDEN, ids=lambda r: f"{r['file']}-{r['ligand']}-{r['chain']}-{r['cutoff']}"
)
def test_pockets_of_real_complexes_match_the_golden_fixtures(
    profile: Profile, record: dict[str, Any]
) -> None:
    pocket = pocket_from_complex(STRUCTURES / record["file"], profile=profile, **record["request"])
    assert pocket.chain == record["chain"]
    assert pocket.sequence == record["sequence"]
    assert list(pocket.positions) == record["positions"]
    assert list(pocket.residue_numbers) == record["residue_numbers"]
    assert pocket.marked(profile) == record["marked"]
    decoded = decode_pocket_protein(record["marked"], profile, expected_sequence=record["sequence"])
    assert list(decoded.positions) == record["positions"]


@pytest.mark.parametrize("chain", ["A", "B"])
def test_hiv_protease_pocket_holds_the_catalytic_aspartate_25_of_each_chain(
    profile: Profile, chain: str
) -> None:
    pocket = pocket_from_complex(STRUCTURES / "1hvr.pdb", ligand="XK2", chain=chain, profile=profile)
    assert {"25", "27", "50", "82", "84"} <= set(pocket.residue_numbers)
    index = pocket.positions[pocket.residue_numbers.index("25")]
    assert pocket.sequence[index] == "D"
    assert pocket.sequence[index : index + 3] == "DTG"  # the protease's Asp-Thr-Gly motif


def test_chain_defaults_to_the_one_with_most_pocket_residues(profile: Profile) -> None:
    # Glycerol A 276 of 3PWP sits between chains; it touches chain B more than its own chain A.
    pocket = pocket_from_complex(
        STRUCTURES / "3PWP.cif", ligand="GOL", ligand_chain="A", ligand_resnum=276, profile=profile
    )
    assert pocket.chain == "B"
    assert pocket.contacts_by_chain["B"] == max(pocket.contacts_by_chain.values())
    # A tie (the symmetric protease dimer) keeps the first chain in file order.
    tie = pocket_from_complex(STRUCTURES / "1hvr.pdb", ligand="XK2", profile=profile)
    assert tie.contacts_by_chain == {"A": 20, "B": 20}
    assert tie.chain == "A"


def test_cutoff_defaults_to_the_profile_and_a_smaller_one_gives_a_subset(profile: Profile) -> None:
    default = pocket_from_complex(STRUCTURES / "1hvr.pdb", ligand="XK2", chain="A", profile=profile)
    assert default.cutoff == profile.unpublished.pocket_cutoff_angstrom
    tight = pocket_from_complex(STRUCTURES / "1hvr.pdb", ligand="XK2", chain="A", cutoff=4.0, profile=profile)
    assert set(tight.positions) < set(default.positions)


def test_hydrogens_never_count_as_contacts(profile: Profile, tmp_path: Path) -> None:
    source = (STRUCTURES / "5a7u.pdb").read_text(encoding="utf-8").splitlines(keepends=True)
    assert any(line.startswith("ATOM") and line[76:78].strip() == "H" for line in source)
    stripped = tmp_path / "5a7u_no_h.pdb"
    stripped.write_text(
        "".join(line for line in source if not (line.startswith("ATOM") and line[76:78].strip() == "H")),
        encoding="utf-8",
    )
    with_h = pocket_from_complex(STRUCTURES / "5a7u.pdb", ligand="ZN", profile=profile)
    without_h = pocket_from_complex(stripped, ligand="ZN", profile=profile)
    assert with_h.positions == without_h.positions


def test_ligand_name_is_case_insensitive_and_result_serialises(profile: Profile) -> None:
    pocket = pocket_from_complex(STRUCTURES / "5PTI.cif", ligand="po4", profile=profile)
    payload = json.loads(json.dumps(pocket.to_dict()))
    assert payload["ligand_name"] == "PO4"
    assert payload["residue_numbers"] == list(pocket.residue_numbers)


@pytest.mark.parametrize(
    ("file", "request_", "fragments"),
    [
        ("1a28.pdb", {"ligand": "STR"}, ["ambiguous", "STR A 1", "STR B 2", "ligand_chain"]),
        ("1a28.pdb", {"ligand": "ATP"}, ["no ligand named 'ATP'", "STR"]),
        ("4E43.pdb", {"ligand": "GOL", "ligand_chain": "A"}, ["ambiguous", "GOL A 104", "GOL A 107"]),
        ("4E43.pdb", {"ligand": "GOL", "ligand_resnum": 999}, ["number 999", "GOL B 109"]),
        ("1a28.pdb", {"ligand": "STR", "ligand_chain": "A", "chain": "B"}, ["Chain B has no residue", "6.0"]),
        ("1a28.pdb", {"ligand": "STR", "ligand_chain": "A", "chain": "Z"}, ["no protein chain 'Z'", "A, B"]),
        ("1hvr.pdb", {"ligand": "XK2", "cutoff": 0.0}, ["cutoff 0.0"]),
        ("1hvr.pdb", {"ligand": "XK2", "cutoff": 50}, ["cutoff 50"]),
        ("1hvr.pdb", {"ligand": "XK2", "cutoff": 0.5}, ["No protein residue", "0.5"]),
        ("missing.pdb", {"ligand": "XK2"}, ["missing.pdb", "does not exist"]),
    ],
)
def test_bad_pocket_requests_are_rejected_naming_the_value(
    profile: Profile, file: str, request_: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        pocket_from_complex(STRUCTURES / file, profile=profile, **request_)
    for fragment in fragments:
        assert fragment in str(info.value)
