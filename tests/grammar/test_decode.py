import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logos_tools.errors import DecodeError
from logos_tools.grammar.decode import decode_text
from logos_tools.grammar.profile import Profile, load_profile

MOF5 = (
    "<MaterialS><MetalS>[Zn][O]([Zn])([Zn])[Zn]<MetalE>"
    "<MoleculeS>O=C(O)c1ccc(C(=O)O)cc1<MoleculeE><MaterialE>"
)


def test_a_material_string_decodes_to_blocks_composition_and_checks_as_json(profile: Profile) -> None:
    decoded = decode_text(MOF5, profile)
    data = json.loads(json.dumps(decoded.to_dict()))
    assert data["valid"]
    assert data["problems"] == []
    (block,) = data["blocks"]
    assert block["kind"] == "material"
    assert block["valid"]
    assert block["value"]["composition"]["formula"] == "Zn4 H6 C8 O5"
    assert {check["name"] for check in block["value"]["checks"]} >= {"node_has_metal", "charge_balance"}


def test_each_kind_of_block_is_decoded_by_its_own_codec(profile: Profile) -> None:
    text = (
        "<MoleculeS>OCC<MoleculeE><ProteinS>MKTAV<ProteinE><AntibodyS>EVQLVES<AntibodyE>"
        "<ProteinS>MK<PocketS>T<PocketE>AV<ProteinE><ProteinS>MK<PocketS>N[C@@H](CS)C(=O)O<PocketE>A<ProteinE>"
    )
    decoded = decode_text(text, profile)
    assert decoded.valid, decoded.problems
    kinds = [(b.kind, b.value) for b in decoded.blocks]
    assert kinds[0] == ("molecule", decoded.blocks[0].value)
    assert [kind for kind, _ in kinds] == [
        "molecule",
        "protein",
        "antibody",
        "pocket_protein",
        "expanded_pocket_protein",
    ]
    assert decoded.blocks[0].value is not None
    assert decoded.blocks[0].value["canonical"] == "CCO"
    assert decoded.blocks[3].value is not None
    assert decoded.blocks[3].value["positions"] == [2]
    assert decoded.blocks[4].value is not None
    assert decoded.blocks[4].value["sequence"] == "MKCA"


def test_every_problem_of_a_text_is_listed_with_its_position(profile: Profile) -> None:
    text = "junk<MoleculeS>C1C<MoleculeE><AntibodyS>EVQLZ<AntibodyE><MoleculeS>CC"
    decoded = decode_text(text, profile)
    assert not decoded.valid
    assert decoded.truncated
    assert [(b.kind, b.valid, b.error_position) for b in decoded.blocks] == [
        ("molecule", False, 15),
        ("antibody", False, 44),
        ("molecule", False, 69),
    ]
    assert len(decoded.problems) == 4
    assert "Stray text 'junk' at position 0" in decoded.problems[-1]


def test_a_reaction_text_also_gets_its_reaction_sets(profile: Profile) -> None:
    text = (
        "<MoleculeS>CCOC(C)=O<MoleculeE><ReverseReact><MoleculeS>OC(C)=O<MoleculeE><MoleculeS>OCC<MoleculeE>"
    )
    decoded = decode_text(text, profile)
    assert decoded.valid
    assert decoded.reaction is not None
    assert decoded.reaction["reactant_set"] == ["CC(=O)O", "CCO"]
    assert [m.name for m in decoded.task_markers] == ["reverse_react"]


def test_a_search_answer_whose_letters_differ_from_the_input_is_a_problem(profile: Profile) -> None:
    good = "<ProteinS>MKTLAV<ProteinE><Search><ProteinS>MK<PocketS>T<PocketE>LAV<ProteinE>"
    bad = "<ProteinS>MKTLAV<ProteinE><Search><ProteinS>MK<PocketS>T<PocketE>LAW<ProteinE>"
    assert decode_text(good, profile).valid
    (problem,) = decode_text(bad, profile).problems
    assert "differs from the one before it at residue index 5" in problem


def test_text_without_blocks_is_not_valid(profile: Profile) -> None:
    decoded = decode_text("just words", profile)
    assert not decoded.valid
    assert "No LOGOS block found" in decoded.problems[-1]


def test_text_after_an_end_string_is_reported(profile: Profile) -> None:
    decoded = decode_text("<MoleculeS>C<MoleculeE><|end_of_text|>garbage", profile)
    assert decoded.ended_by == "<|end_of_text|>"
    assert decoded.trailing == "garbage"
    assert decoded.problems == ("Text after the end string <|end_of_text|> was ignored.",)


@pytest.mark.parametrize(
    ("text", "position"), [("<MoleculeE>", 0), ("<ProteinS>MK<MoleculeS>C<MoleculeE><ProteinE>", 12)]
)
def test_structural_errors_raise_decode_error_with_position(
    profile: Profile, text: str, position: int
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_text(text, profile)
    assert info.value.position == position


CONTENT_FRAGMENTS = [
    "CCO",
    "c1ccccc1",
    "C1CC",
    "[Zn]",
    "[Zn][O]([Zn])([Zn])[Zn]",
    "OC(=O)c1ccc(C(=O)O)cc1",
    "*",
    "(",
    "]",
    "MKTLAV",
    "N[C@@H](CS)C(=O)O",
    "X",
    "Z",
    "|",
    " ",
    "\n",
    "<",
    ">",
    "é",
    "\x00",
]
FRAGMENTS = [
    *load_profile("logos-v1").all_tags(),
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    *CONTENT_FRAGMENTS,
]


@settings(max_examples=400, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=14))
def test_decoding_text_built_from_tag_and_smiles_fragments_raises_only_decode_error(
    profile: Profile, pieces: list[str]
) -> None:
    text = "".join(pieces)
    position: int | None = None
    try:
        json.dumps(decode_text(text, profile, geometry=False).to_dict())
    except DecodeError as exc:
        position = exc.position
    assert position is None or 0 <= position <= len(text)


CONTENT = st.lists(st.sampled_from(CONTENT_FRAGMENTS), max_size=4).map("".join)
TAGS: dict[str, tuple[str, str]] = {str(kind): tags for kind, tags in load_profile("logos-v1").tags.items()}


@st.composite
def block_texts(draw: st.DrawFn) -> str:
    """Mostly well-formed blocks of every kind with random content, and task tokens between them."""
    pieces = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["molecule", "protein", "antibody", "material", "task", "stray"]))
        if kind == "task":
            pieces.append(draw(st.sampled_from(list(load_profile("logos-v1").task_tokens.values()))))
            continue
        if kind == "stray":
            pieces.append(draw(CONTENT))
            continue
        start, end = TAGS[kind]
        if kind == "protein":
            inner = draw(
                st.lists(st.one_of(CONTENT, CONTENT.map(lambda c: f"<PocketS>{c}<PocketE>")), max_size=4)
            )
        elif kind == "material":
            inner = [f"<MetalS>{draw(CONTENT)}<MetalE>"] + [
                f"<MoleculeS>{c}<MoleculeE>" for c in draw(st.lists(CONTENT, max_size=3))
            ]
        else:
            inner = [draw(CONTENT)]
        closed = draw(st.booleans()) or draw(st.booleans())
        pieces.append(start + "".join(inner) + (end if closed else ""))
    return "".join(pieces)


@settings(max_examples=400, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
@given(text=block_texts())
def test_decoding_random_blocks_of_every_kind_raises_only_decode_error(profile: Profile, text: str) -> None:
    try:
        decoded = decode_text(text, profile, geometry=False)
    except DecodeError:
        return
    json.dumps(decoded.to_dict())


@settings(max_examples=300, deadline=timedelta(seconds=10))
@given(text=st.text(max_size=200))
def test_decoding_arbitrary_text_raises_only_decode_error(profile: Profile, text: str) -> None:
    try:
        decoded = decode_text(text, profile)
    except DecodeError:
        return
    json.dumps(decoded.to_dict())


@settings(max_examples=60, deadline=timedelta(seconds=20), suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.sampled_from(["[Zn]", "[Cu][Cu]", "CCO", "OC(=O)c1ccccc1", "c1ccncc1", "*C"]),
        min_size=2,
        max_size=4,
    )
)
def test_random_materials_decode_with_geometry_without_crashing(profile: Profile, pieces: list[str]) -> None:
    node, *linkers = pieces
    text = (
        f"<MaterialS><MetalS>{node}<MetalE>"
        + "".join(f"<MoleculeS>{s}<MoleculeE>" for s in linkers)
        + "<MaterialE>"
    )
    decoded = decode_text(text, profile)
    json.dumps(decoded.to_dict())
