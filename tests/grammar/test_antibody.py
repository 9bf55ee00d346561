from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logos_tools.errors import DecodeError, EncodeError, ProfileError
from logos_tools.grammar.antibody import AntibodySequence, decode_antibody, encode_antibody
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.grammar.protein import AMINO_ACIDS
from logos_tools.shipped import grammar_dir

# Trastuzumab variable domains (heavy and light), as published for the approved antibody.
HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQGTLVTVSS"
LIGHT = "DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGQGTKVEIK"
chains = st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=150)


def _profile_with(tmp_path: Path, layout: str, separator: str = "|") -> Profile:
    text = (grammar_dir() / "logos-v1.toml").read_text(encoding="utf-8")
    text = text.replace('antibody_layout = "heavy"', f'antibody_layout = "{layout}"')
    text = text.replace('antibody_chain_separator = "|"', f'antibody_chain_separator = "{separator}"')
    path = tmp_path / f"{layout}-{ord(separator)}.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(str(path))


def test_heavy_layout_writes_the_heavy_chain_alone(profile: Profile) -> None:
    text = encode_antibody(HEAVY.lower(), None, profile)
    assert text == f"<AntibodyS>{HEAVY}<AntibodyE>"
    assert decode_antibody(text, profile) == AntibodySequence(heavy=HEAVY)


def test_heavy_light_layout_joins_the_chains_with_the_separator(tmp_path: Path) -> None:
    paired = _profile_with(tmp_path, "heavy_light")
    text = encode_antibody(HEAVY, LIGHT, paired)
    assert text == f"<AntibodyS>{HEAVY}|{LIGHT}<AntibodyE>"
    assert decode_antibody(text, paired) == AntibodySequence(heavy=HEAVY, light=LIGHT)


@given(heavy=chains)
def test_decode_inverts_encode_in_the_heavy_layout(profile: Profile, heavy: str) -> None:
    assert decode_antibody(encode_antibody(heavy, None, profile), profile).heavy == heavy


def test_chain_count_must_match_the_layout(profile: Profile, tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="antibody_layout = 'heavy'"):
        encode_antibody(HEAVY, LIGHT, profile)
    with pytest.raises(EncodeError, match="no light chain was given"):
        encode_antibody(HEAVY, None, _profile_with(tmp_path, "heavy_light"))


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        (f"<AntibodyS>{HEAVY}<AntibodyE>", 11 + len(HEAVY), "no chain separator"),
        (f"<AntibodyS>{HEAVY}|{LIGHT}|GG<AntibodyE>", 12 + len(HEAVY) + len(LIGHT), "2 chain separator"),
        (f"<AntibodyS>{HEAVY}|<AntibodyE>", 12 + len(HEAVY), "light chain at position"),
        ("<AntibodyS>EVQ|DIXM<AntibodyE>", 17, "'X' stands for an unknown residue"),
    ],
)
def test_malformed_paired_antibodies_report_the_position(
    tmp_path: Path, text: str, position: int, fragment: str
) -> None:
    with pytest.raises(DecodeError, match=fragment) as info:
        decode_antibody(text, _profile_with(tmp_path, "heavy_light"))
    assert info.value.position == position


@pytest.mark.parametrize(
    ("heavy", "fragment"),
    [("EVQLBES", "'B' at position 5"), ("", "empty"), ("EVQ<AntibodyE>", "<AntibodyE>")],
)
def test_bad_heavy_chains_are_rejected_naming_the_value(profile: Profile, heavy: str, fragment: str) -> None:
    with pytest.raises(EncodeError, match=fragment):
        encode_antibody(heavy, None, profile)


def test_decode_rejects_other_blocks_and_bad_letters(profile: Profile) -> None:
    with pytest.raises(DecodeError) as info:
        decode_antibody("<AntibodyS>EVQ|DIQ<AntibodyE>", profile)
    assert info.value.position == 14
    with pytest.raises(DecodeError, match="found a protein block"):
        decode_antibody(f"<ProteinS>{HEAVY}<ProteinE>", profile)


def test_a_separator_that_could_be_a_residue_is_a_profile_error(tmp_path: Path) -> None:
    ambiguous = _profile_with(tmp_path, "heavy_light", separator="G")
    with pytest.raises(ProfileError, match="contains 'G'"):
        encode_antibody(HEAVY, LIGHT, ambiguous)
