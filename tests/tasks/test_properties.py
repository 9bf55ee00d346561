import subprocess
import sys
from pathlib import Path

import pytest
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from logos_tools.errors import EncodeError, InputError
from logos_tools.tasks.properties import (
    InvalidMolecule,
    MoleculeFilter,
    MoleculeProperties,
    check_filter,
    describe_molecule,
    describe_molecules,
    uniqueness_and_novelty,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
BENZYLIDENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"
NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


@pytest.fixture(scope="module")
def aspirin() -> MoleculeProperties:
    return describe_molecule(ASPIRIN)


def test_aspirin_has_its_textbook_properties(aspirin: MoleculeProperties) -> None:
    assert aspirin.canonical_smiles == ASPIRIN
    assert aspirin.formula == "C9H8O4"
    assert aspirin.mw == pytest.approx(180.16, abs=0.01)
    assert aspirin.tpsa == pytest.approx(63.6, abs=0.01)
    assert (aspirin.hbd, aspirin.hba) == (1, 3)
    assert aspirin.qed == pytest.approx(0.55, abs=0.01)
    assert (aspirin.rotatable_bonds, aspirin.heavy_atoms, aspirin.rings, aspirin.aromatic_rings) == (
        2,
        13,
        1,
        1,
    )
    assert aspirin.formal_charge == 0
    assert 1.0 <= aspirin.sa_score < 2.5  # aspirin is trivially easy to make
    assert (aspirin.lipinski_violations, aspirin.lipinski_pass) == (0, True)
    assert aspirin.pains_alerts == []


def test_properties_match_rdkit_computed_directly(aspirin: MoleculeProperties) -> None:
    mol = Chem.MolFromSmiles(ASPIRIN)
    assert aspirin.mw == pytest.approx(Descriptors.MolWt(mol), abs=1e-3)  # type: ignore[attr-defined]
    assert aspirin.logp == pytest.approx(Crippen.MolLogP(mol), abs=1e-3)  # type: ignore[attr-defined]
    assert aspirin.tpsa == pytest.approx(rdMolDescriptors.CalcTPSA(mol), abs=1e-2)
    assert aspirin.hbd == Lipinski.NumHDonors(mol)  # type: ignore[attr-defined]
    assert aspirin.hba == Lipinski.NumHAcceptors(mol)  # type: ignore[attr-defined]
    assert aspirin.qed == pytest.approx(QED.qed(mol), abs=1e-4)  # type: ignore[no-untyped-call]


def test_a_benzylidene_rhodanine_raises_the_ene_rhod_pains_alert() -> None:
    props = describe_molecule(BENZYLIDENE_RHODANINE)
    assert props.pains_alerts == ["ene_rhod_A(235)"]
    ok, reasons = MoleculeFilter(no_pains=True).passes(props)
    assert not ok
    assert reasons == ["PAINS alerts: ene_rhod_A(235)"]


def test_a_catechol_is_flagged_and_a_plain_amide_is_not() -> None:
    assert describe_molecule("Oc1ccccc1O").pains_alerts == ["catechol_A(92)"]
    assert describe_molecule("CC(=O)Nc1ccc(O)cc1").pains_alerts == []


def test_a_hard_to_make_natural_product_scores_worse_than_aspirin(aspirin: MoleculeProperties) -> None:
    taxol_core = "CC1=C2C(C(=O)C3(C)C(CC4OCC4(OC(C)=O)C3C(OC(=O)c3ccccc3)C(O)(CC1O)C2(C)C)O)OC(C)=O"
    assert describe_molecule(taxol_core).sa_score > aspirin.sa_score + 2


def test_a_large_greasy_molecule_breaks_the_rule_of_five() -> None:
    props = describe_molecule("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCc1ccc(cc1)C(=O)O")
    assert props.lipinski_violations == 2
    assert props.lipinski_pass is False


def test_stereo_and_charges_are_kept_in_the_canonical_smiles() -> None:
    props = describe_molecule("C[C@H](N)C(=O)[O-]")
    assert props.canonical_smiles == "C[C@H](N)C(=O)[O-]"
    assert props.formal_charge == -1


def test_an_invalid_smiles_raises_an_encode_error_with_the_reason() -> None:
    with pytest.raises(EncodeError, match="'C1CC' is invalid: unclosed ring"):
        describe_molecule("C1CC")


def test_a_batch_keeps_invalid_smiles_as_data_in_input_order() -> None:
    described = describe_molecules(["CCO", "C1CC", "", "CCO"])
    assert [d.valid for d in described] == [True, False, False, True]
    assert isinstance(described[1], InvalidMolecule)
    assert "unclosed ring" in described[1].reason
    assert isinstance(described[2], InvalidMolecule)
    assert "empty" in described[2].reason
    assert described[0] == described[3]
    assert described[0] is not described[3]


def test_five_hundred_nci_molecules_are_described_without_error() -> None:
    with NCI.open(encoding="utf-8") as handle:
        smiles = [line.split()[0] for line in handle][:500]
    described = describe_molecules(smiles)
    assert len(described) == 500
    valid = [d for d in described if isinstance(d, MoleculeProperties)]
    assert len(valid) >= 490
    assert all(0 <= d.qed <= 1 and 1 <= d.sa_score <= 10 for d in valid)
    assert any(d.pains_alerts for d in valid)


def test_filter_reasons_name_the_value_and_the_limit(aspirin: MoleculeProperties) -> None:
    ok, reasons = MoleculeFilter(min_qed=0.6, max_mw=150, max_logp=1.0, max_tpsa=60).passes(aspirin)
    assert not ok
    assert reasons == ["QED 0.55 < 0.6", "MW 180.2 > 150", "cLogP 1.31 > 1", "TPSA 63.6 > 60"]


def test_a_molecule_within_every_limit_passes(aspirin: MoleculeProperties) -> None:
    limits = MoleculeFilter(min_qed=0.5, max_mw=500, max_sa=4, lipinski=True, no_pains=True, neutral=True)
    assert limits.passes(aspirin) == (True, [])
    assert MoleculeFilter().is_empty()
    assert not limits.is_empty()


def test_a_filter_with_an_unknown_key_is_refused_with_the_known_keys() -> None:
    with pytest.raises(InputError, match=r"max_weight: Extra inputs are not permitted.*min_qed, max_mw"):
        check_filter({"max_weight": 500})
    with pytest.raises(InputError, match="min_qed"):
        check_filter({"min_qed": 2})
    assert check_filter({"min_qed": 0.5}) == MoleculeFilter(min_qed=0.5)
    assert check_filter(None).is_empty()


def test_uniqueness_and_novelty_follow_the_moses_definitions() -> None:
    unique, novel = uniqueness_and_novelty(["CCO", "CCO", "c1ccccc1", "CCN"], reference={"CCO"})
    assert unique == pytest.approx(3 / 4)
    assert novel == pytest.approx(2 / 3)
    assert uniqueness_and_novelty([], reference={"CCO"}) == (0.0, 0.0)


def test_the_sa_scorer_leaves_sys_path_alone() -> None:
    code = (
        "import sys\n"
        "before = list(sys.path)\n"
        "from logos_tools.tasks.properties import describe_molecule\n"
        "describe_molecule('CCO')\n"
        "print(sys.path == before, 'sascorer' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]
