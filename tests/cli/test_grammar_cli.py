import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from logos_tools.cli.main import cli
from logos_tools.grammar.pocket import decode_pocket_protein
from logos_tools.grammar.profile import load_profile
from logos_tools.shipped import grammar_dir

MOF5 = (
    "<MaterialS><MetalS>[Zn][O]([Zn])([Zn])[Zn]<MetalE>"
    "<MoleculeS>O=C(O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"
)
STRUCTURE = grammar_dir() / "fixtures" / "structures" / "1hvr.pdb"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["grammar", *args], input=stdin)


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_encode_molecule_prints_the_block_of_the_canonical_smiles_as_json() -> None:
    result = run("encode", "molecule", "OC(=O)c1ccccc1OC(C)=O", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["canonical"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert data["text"] == "<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE>"


def test_encode_molecule_without_json_prints_only_the_block() -> None:
    assert run("encode", "molecule", "OCC").stdout == "<MoleculeS>CCO<MoleculeE>\n"


def test_encode_invalid_molecule_fails_with_one_line_naming_value_and_problem() -> None:
    result = run("encode", "molecule", "C1CC")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_line_error(result)
    assert "'C1CC'" in line
    assert "unclosed ring" in line


def test_encode_protein_and_antibody() -> None:
    assert (
        json.loads(run("encode", "protein", "mktav", "--json").stdout)["text"] == "<ProteinS>MKTAV<ProteinE>"
    )
    assert run("encode", "antibody", "EVQLVES").stdout == "<AntibodyS>EVQLVES<AntibodyE>\n"


def test_encode_pocket_from_a_sequence_takes_1_based_positions() -> None:
    data = json.loads(run("encode", "pocket", "MKTLAV", "--positions", "1,3", "--json").stdout)
    assert data["text"] == "<ProteinS><PocketS>M<PocketE>K<PocketS>T<PocketE>LAV<ProteinE>"
    assert (data["positions"], data["positions_1based"]) == ([0, 2], [1, 3])


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["MKTLAV", "--positions", "0"], "must be 1-based"),
        (["MKTLAV", "--positions", "a,b"], "is not a comma-separated list"),
        (["MKTLAV"], "needs --positions"),
        (["--structure", str(STRUCTURE)], "needs --ligand"),
    ],
)
def test_encode_pocket_rejects_bad_options(args: list[str], problem: str) -> None:
    result = run("encode", "pocket", *args)
    assert result.exit_code == 2
    assert problem in result.stderr


def test_encode_pocket_from_a_complex_gives_a_marked_protein_that_decodes_to_the_same_residues() -> None:
    result = run("encode", "pocket", "--structure", str(STRUCTURE), "--ligand", "XK2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    decoded = decode_pocket_protein(data["text"], load_profile())
    assert list(decoded.positions) == data["positions"]
    assert decoded.sequence == data["sequence"]
    assert data["ligand_name"] == "XK2"
    assert [p + 1 for p in data["positions"]] == data["positions_1based"]


def test_encode_pocket_with_an_unknown_ligand_fails_with_one_line() -> None:
    result = run("encode", "pocket", "--structure", str(STRUCTURE), "--ligand", "ATP")
    assert result.exit_code == 2
    assert "ATP" in one_line_error(result)


@pytest.mark.parametrize(
    ("direction", "text"),
    [
        (
            "retro",
            "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact><MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE>",
        ),
        (
            "forward",
            "<MoleculeS>CC(=O)O<MoleculeE><MoleculeS>CCO<MoleculeE><React><MoleculeS>CCOC(C)=O<MoleculeE>",
        ),
    ],
)
def test_encode_reaction_in_either_direction(direction: str, text: str) -> None:
    data = json.loads(
        run("encode", "reaction", "CC(=O)O.OCC>>CC(=O)OCC", "--direction", direction, "--json").stdout
    )
    assert data["text"] == text
    assert data["product_set"] == ["CCOC(C)=O"]


def test_encode_reaction_with_an_unknown_direction_is_a_usage_error() -> None:
    assert run("encode", "reaction", "C>>C", "--direction", "sideways").exit_code == 2


def test_encode_material_from_node_and_repeated_linkers() -> None:
    result = run(
        "encode",
        "material",
        "--node",
        "[Zn][O]([Zn])([Zn])[Zn]",
        "--linker",
        "OC(=O)c1ccc(C(=O)O)cc1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == MOF5


def test_encode_material_without_a_node_is_a_usage_error() -> None:
    result = run("encode", "material", "--linker", "OC(=O)c1ccccc1")
    assert result.exit_code == 2
    assert "--node" in result.stderr


def test_encode_without_a_value_is_a_usage_error() -> None:
    result = run("encode", "molecule")
    assert result.exit_code == 2
    assert "needs a VALUE" in result.stderr


def test_decode_a_material_string_returns_blocks_composition_and_checks_as_json() -> None:
    result = run("decode", MOF5, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    value = data["blocks"][0]["value"]
    assert value["composition"]["formula"] == "Zn4 H6 C8 O5"
    assert {c["name"] for c in value["checks"]} >= {"node_has_metal", "linker_1_organic", "charge_balance"}
    assert value["node"]["geometry"]["embedded"] is True


def test_decode_reads_stdin_when_text_is_a_dash() -> None:
    result = run("decode", "-", stdin="<MoleculeS>OCC<MoleculeE>\n")
    assert result.exit_code == 0
    assert result.stdout == "molecule [0:25] ok CCO\n"


def test_decode_of_invalid_text_prints_the_result_and_exits_1() -> None:
    result = run("decode", "<MoleculeS>CC<MoleculeE><ProteinS>MKZ<ProteinE>", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["valid"] is False
    assert "'Z'" in one_line_error(result)


def test_decode_of_structurally_broken_text_exits_1_with_the_position() -> None:
    result = run("decode", "<MoleculeS>C<ProteinE>")
    assert result.exit_code == 1
    assert "at position 12" in one_line_error(result)


def test_validate_exits_0_for_valid_text() -> None:
    result = run("validate", MOF5, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "problems": []}


@pytest.mark.parametrize("text", ["<MoleculeS>C1CC<MoleculeE>", "<MoleculeE>", "no tags", "<MoleculeS>CC"])
def test_validate_exits_1_with_reasons_for_invalid_text(text: str) -> None:
    result = run("validate", text, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["problems"]
    one_line_error(result)


def test_a_profile_can_be_chosen_by_path(tmp_path: Path) -> None:
    source = (grammar_dir() / "logos-v1.toml").read_text(encoding="utf-8")
    custom = tmp_path / "custom.toml"
    custom.write_text(
        source.replace('smiles_stereo = "keep"', 'smiles_stereo = "strip_stereo"'), encoding="utf-8"
    )
    result = run("--profile", str(custom), "encode", "molecule", "N[C@@H](C)C(=O)O")
    assert result.stdout == "<MoleculeS>CC(N)C(=O)O<MoleculeE>\n"
