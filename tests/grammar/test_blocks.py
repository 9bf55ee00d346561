import pytest

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.blocks import Block, TaskMarker, check_no_tags, parse_blocks
from logos_tools.grammar.profile import Profile


def test_retrosynthesis_answer_splits_into_task_marker_and_molecule_blocks(profile: Profile) -> None:
    text = "<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE><ReverseReact><MoleculeS>CC(=O)O<MoleculeE><MoleculeS>Oc1ccccc1C(=O)O<MoleculeE>"
    parsed = parse_blocks(text, profile)
    answer = parsed.after_task("reverse_react")
    assert [b.content for b in answer if isinstance(b, Block)] == ["CC(=O)O", "Oc1ccccc1C(=O)O"]
    assert not parsed.truncated
    assert isinstance(parsed.items[1], TaskMarker)


def test_pocket_protein_keeps_plain_sequence_and_pocket_children(profile: Profile) -> None:
    parsed = parse_blocks("<ProteinS>MKT<PocketS>L<PocketE>AV<PocketS>F<PocketE>G<ProteinE>", profile)
    (protein,) = parsed.blocks
    assert protein.plain == "MKTLAVFG"
    assert [c.content for c in protein.children] == ["L", "F"]
    assert [c.start for c in protein.children] == [13, 34]


def test_missing_end_tag_is_reported_as_truncated(profile: Profile) -> None:
    parsed = parse_blocks("<MoleculeS>CCO<MoleculeE><MoleculeS>c1cc", profile)
    assert parsed.truncated
    assert [b.complete for b in parsed.blocks] == [True, False]
    assert parsed.blocks[1].content == "c1cc"


def test_bos_is_dropped_and_the_first_end_string_ends_the_answer(profile: Profile) -> None:
    parsed = parse_blocks("<|begin_of_text|><MoleculeS>CCO<MoleculeE><|end_of_text|><MoleculeS>junk", profile)
    assert [b.content for b in parsed.blocks] == ["CCO"]
    assert parsed.ended_by == "<|end_of_text|>"
    assert parsed.trailing == "<MoleculeS>junk"


def test_stray_text_between_blocks_is_kept_not_hidden(profile: Profile) -> None:
    parsed = parse_blocks("hello<MoleculeS>C<MoleculeE> x", profile)
    assert [(s.text, s.start) for s in parsed.stray] == [("hello", 0), (" x", 28)]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("<MoleculeE>", 0),
        ("<MoleculeS>C<ProteinE>", 12),
        ("<ProteinS>MK<MoleculeS>C<MoleculeE><ProteinE>", 12),
        ("<MoleculeS>C<ReverseReact>", 12),
    ],
)
def test_structural_errors_carry_their_position(profile: Profile, text: str, position: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_blocks(text, profile)
    assert info.value.position == position
    assert str(position) in str(info.value)


@pytest.mark.parametrize("value", ["CC<MoleculeE>O", "C<ProteinS>", "C<|eot_id|>", "MKT<foo>"])
def test_user_values_with_tags_are_rejected(profile: Profile, value: str) -> None:
    with pytest.raises(EncodeError, match="must not contain LOGOS tags"):
        check_no_tags(value, "SMILES", profile)
