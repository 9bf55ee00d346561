import json

import numpy as np
import pytest
from pymatgen.core.composition import Composition
from pymatgen.core.structure import Molecule

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.material import decode_material, encode_material
from logos_tools.grammar.profile import Profile

ZN4O = "[Zn][O]([Zn])([Zn])[Zn]"
BDC = "OC(=O)c1ccc(C(=O)O)cc1"
MOF5 = f"<MaterialS><MetalS>{ZN4O}<MetalE><MoleculeS>O=C(O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"


def _failed(text: str, profile: Profile) -> set[str]:
    return {check.name for check in decode_material(text, profile, geometry=False).checks if not check.passed}


def test_mof5_building_blocks_encode_to_a_material_block(profile: Profile) -> None:
    assert encode_material(ZN4O, [BDC], profile) == MOF5


def test_mof5_decodes_into_molecules_composition_checks_and_a_charge_estimate(profile: Profile) -> None:
    material = decode_material(MOF5, profile)
    assert material.valid
    assert material.composition == Composition("Zn4O5C8H6")
    assert material.node.sanitize == "no_valence"  # the mu4-oxo breaks RDKit's valence rules
    assert (material.charge.node, material.charge.linkers, material.charge.ratio) == (6, (-2,), (1, 3))
    assert _failed(MOF5, profile) == {"node_sanitized"}  # a warning only
    assert [linker.canonical for linker in material.linkers] == ["O=C(O)c1ccc(C(=O)O)cc1"]


def test_every_block_gets_3d_coordinates_as_a_pymatgen_molecule(profile: Profile) -> None:
    material = decode_material(MOF5, profile)
    node, linker = material.node.geometry, material.linkers[0].geometry
    assert node is not None
    assert isinstance(node.molecule, Molecule)
    assert node.molecule.composition == Composition("Zn4O")
    assert linker is not None
    assert linker.molecule is not None
    assert len(linker.molecule) == 18  # C8H6O4 with hydrogens
    distances = linker.molecule.distance_matrix
    assert distances[distances > 0].min() > 0.9  # real 3D coordinates, no collapsed atoms


def test_embedding_is_reproducible_with_the_fixed_seed(profile: Profile) -> None:
    first, second = decode_material(MOF5, profile), decode_material(MOF5, profile)
    assert first.linkers[0].geometry is not None
    assert second.linkers[0].geometry is not None
    assert first.linkers[0].geometry.to_dict() == second.linkers[0].geometry.to_dict()


def test_geometry_can_be_skipped(profile: Profile) -> None:
    material = decode_material(MOF5, profile, geometry=False)
    assert material.node.geometry is None
    assert material.to_dict()["node"]["geometry"] is None


def test_a_node_of_separate_ions_gets_its_ions_set_apart_and_says_so(profile: Profile) -> None:
    text = "<MaterialS><MetalS>[Cu+2].[Cu+2]<MetalE><MoleculeS>O=C([O-])c1ccccc1<MoleculeE><MaterialE>"
    geometry = decode_material(text, profile).node.geometry
    assert geometry is not None
    assert geometry.molecule is not None
    assert geometry.fragments == 2
    first, second = geometry.molecule.cart_coords
    assert float(np.linalg.norm(first - second)) >= 2.9  # not both at the origin
    assert "relative placement is not chemistry" in geometry.to_dict()["note"]
    single = decode_material(text, profile).linkers[0].geometry
    assert single is not None
    assert single.fragments == 1
    assert "note" not in single.to_dict()


def test_a_block_that_cannot_be_embedded_records_why_instead_of_raising(profile: Profile) -> None:
    text = "<MaterialS><MetalS>[Cu][Cu]<MetalE><MoleculeS>*C(=O)c1ccc(C(*)=O)cc1<MoleculeE><MaterialE>"
    geometry = decode_material(text, profile).linkers[0].geometry
    assert geometry is not None
    assert geometry.molecule is None
    assert geometry.reason is not None
    assert "dummy atoms" in geometry.reason


def test_to_dict_is_json_with_composition_checks_and_xyz(profile: Profile) -> None:
    data = json.loads(json.dumps(decode_material(MOF5, profile).to_dict()))
    assert data["composition"]["elements"] == {"Zn": 4, "O": 5, "C": 8, "H": 6}
    assert data["composition"]["reduced_formula"] == "Zn4H6C8O5"
    assert data["charge_balance"] == {
        "node": 6,
        "linkers": [-2],
        "net": 4,
        "neutral_ratio": {"nodes": 1, "linker_sets": 3},
    }
    assert {c["name"] for c in data["checks"]} >= {
        "node_has_metal",
        "node_valence",
        "linker_1_organic",
        "charge_balance",
    }
    assert data["linkers"][0]["geometry"]["xyz"].startswith("18\n")


def test_written_formal_charges_are_used_as_they_are(profile: Profile) -> None:
    text = "<MaterialS><MetalS>[Zn+2]<MetalE><MoleculeS>[O-]C(=O)c1ccc(C(=O)[O-])cc1<MoleculeE><MaterialE>"
    material = decode_material(text, profile, geometry=False)
    assert (material.node.charge_method, material.linkers[0].charge_method) == ("formal", "formal")
    assert (material.charge.net, material.charge.ratio) == (0, (1, 1))


def test_azolate_linkers_count_one_negative_charge_per_azole_nh(profile: Profile) -> None:
    zif = "<MaterialS><MetalS>[Zn]<MetalE><MoleculeS>Cc1ncc[nH]1<MoleculeE><MaterialE>"
    material = decode_material(zif, profile, geometry=False)
    assert (material.charge.node, material.charge.linkers, material.charge.ratio) == (2, (-1,), (1, 2))


def test_paddlewheel_and_tricarboxylate_balance_as_in_hkust1(profile: Profile) -> None:
    text = (
        "<MaterialS><MetalS>[Cu][Cu]<MetalE><MoleculeS>OC(=O)c1cc(C(=O)O)cc(C(=O)O)c1<MoleculeE><MaterialE>"
    )
    assert decode_material(text, profile, geometry=False).charge.ratio == (3, 4)  # Cu6(BTC)4 = Cu3(BTC)2


@pytest.mark.parametrize(
    ("node", "linker", "failed"),
    [
        ("CC", BDC, {"node_has_metal", "charge_balance"}),
        ("[Zn]", "O", {"linker_1_organic", "charge_balance"}),
        ("[Zn]", "[Cu]c1ccccc1", {"linker_1_organic", "charge_balance"}),
        ("[Zn]", "C(C)(C)(C)(C)C", {"linker_1_valence", "charge_balance"}),
    ],
)
def test_chemistry_problems_are_failed_checks_not_exceptions(
    profile: Profile, node: str, linker: str, failed: set[str]
) -> None:
    text = f"<MaterialS><MetalS>{node}<MetalE><MoleculeS>{linker}<MoleculeE><MaterialE>"
    assert _failed(text, profile) == failed
    assert not decode_material(text, profile, geometry=False).valid


@pytest.mark.parametrize(
    ("node", "linkers", "problem"),
    [
        ("CC", [BDC], "fails node_has_metal"),
        ("[Zn]", ["O"], "fails linker_1_organic"),
        ("[Zn]", ["C1CC"], "linker 1 SMILES 'C1CC' is invalid: unclosed ring"),
        ("[Zn]", [], "one or more linker SMILES"),
        ("[Zn]", BDC, "one or more linker SMILES"),
        ("[Zn]<MetalE>", [BDC], "must not contain LOGOS tags"),
        ("[Zn", [BDC], "metal node SMILES '[Zn' is invalid"),
    ],
)
def test_encode_material_rejects_bad_building_blocks_naming_the_value(
    profile: Profile, node: str, linkers: list[str], problem: str
) -> None:
    with pytest.raises(EncodeError) as info:
        encode_material(node, linkers, profile)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("<MaterialS><MoleculeS>C<MoleculeE><MaterialE>", 0, "must hold one metal block first"),
        ("<MaterialS><MetalS>[Zn]<MetalE><MaterialE>", 0, "must hold one metal block first"),
        (
            "<MaterialS><MetalS>[Zn]<MetalE><MetalS>[Zn]<MetalE><MoleculeS>C<MoleculeE><MaterialE>",
            0,
            "one metal block",
        ),
        ("<MaterialS><MetalS>[Zn]<MetalE>x<MoleculeS>C<MoleculeE><MaterialE>", 31, "Stray text 'x'"),
        ("<MaterialS><MetalS>[Zn]<MetalE><MoleculeS>C1<MoleculeE><MaterialE>", 42, "'C1' is invalid"),
        ("<MaterialS><MetalS>[Zn]<MetalE><MoleculeS>CC", 44, "truncated"),
        ("<MaterialS><MetalS>[Zn]<MetalE><MoleculeS>C<MoleculeE><MaterialE>x", 65, "found 'x'"),
        ("<MoleculeS>C<MoleculeE>", 0, "Expected a material block"),
        ("<MaterialS><MetalS><MetalE><MoleculeS>C<MoleculeE><MaterialE>", 19, "is empty"),
    ],
)
def test_malformed_material_text_raises_decode_error_with_position(
    profile: Profile, text: str, position: int, problem: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_material(text, profile)
    assert info.value.position == position
    assert problem in str(info.value)


def test_rdkit_prints_nothing_while_parsing_and_embedding_odd_nodes(
    profile: Profile, capfd: pytest.CaptureFixture[str]
) -> None:
    decode_material(MOF5, profile)
    decode_material(
        "<MaterialS><MetalS>[Zr]1[O]2[Zr][O]3[Zr]1[O]23<MetalE><MoleculeS>c1ccncc1<MoleculeE><MaterialE>",
        profile,
    )
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
