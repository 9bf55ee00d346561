import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.pocket import (
    PocketProtein,
    build_search_prompt,
    check_pocket_answer,
    decode_pocket_protein,
    encode_pocket_protein,
)
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import AMINO_ACIDS
from logos_tools.shipped import grammar_dir

GOLDEN: list[dict[str, Any]] = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "pockets.jsonl").read_text("utf-8").splitlines()
]
HIV = next(r for r in GOLDEN if r["file"] == "1hvr.pdb" and r["chain"] == "A")


@st.composite
def marked_proteins(draw: st.DrawFn) -> tuple[str, list[int]]:
    sequence = draw(st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=200))
    positions = draw(st.sets(st.integers(0, len(sequence) - 1), max_size=len(sequence)))
    return sequence, draw(st.permutations(sorted(positions)))


def test_pocket_marks_wrap_one_residue_each(profile: Profile) -> None:
    text = encode_pocket_protein("MKTLAVFG", [6, 3], profile)
    assert text == "<ProteinS>MKT<PocketS>L<PocketE>AV<PocketS>F<PocketE>G<ProteinE>"
    assert decode_pocket_protein(text, profile) == PocketProtein("MKTLAVFG", (3, 6))
    assert decode_pocket_protein(text, profile).pocket_letters == "LF"


@pytest.mark.parametrize("record", GOLDEN, ids=lambda r: f"{r['file']}-{r['chain']}-{r['cutoff']}")
def test_golden_pockets_round_trip(profile: Profile, record: dict[str, Any]) -> None:
    assert encode_pocket_protein(record["sequence"], record["positions"], profile) == record["marked"]
    decoded = decode_pocket_protein(record["marked"], profile)
    assert (decoded.sequence, list(decoded.positions)) == (record["sequence"], record["positions"])
    check = check_pocket_answer(record["marked"], record["sequence"], profile)
    assert (check.valid, list(check.positions), check.reason) == (True, record["positions"], None)


@given(case=marked_proteins())
def test_decode_inverts_encode_for_any_sequence_and_position_set(
    profile: Profile, case: tuple[str, list[int]]
) -> None:
    sequence, positions = case
    decoded = decode_pocket_protein(encode_pocket_protein(sequence, positions, profile), profile)
    assert decoded == PocketProtein(sequence, tuple(sorted(positions)))


@given(case=marked_proteins(), data=st.data())
def test_one_changed_letter_is_reported_where_it_diverged(
    profile: Profile, case: tuple[str, list[int]], data: st.DataObject
) -> None:
    sequence, positions = case
    index = data.draw(st.integers(0, len(sequence) - 1))
    letter = data.draw(st.sampled_from(AMINO_ACIDS.replace(sequence[index], "")))
    mutated = sequence[:index] + letter + sequence[index + 1 :]
    completion = encode_pocket_protein(mutated, positions, profile)
    check = check_pocket_answer(completion, sequence, profile)
    assert (check.valid, check.diverged_at, check.truncated) == (False, index, False)
    assert f"index {index}" in str(check.reason)
    with pytest.raises(DecodeError, match=f"index {index}"):
        decode_pocket_protein(completion, profile, expected_sequence=sequence)


def test_model_completion_after_the_search_prompt_is_checked(profile: Profile) -> None:
    sequence = HIV["sequence"]
    prompt = build_search_prompt(sequence, profile)
    assert prompt == f"<ProteinS>{sequence}<ProteinE><Search><ProteinS>"
    completion = HIV["marked"].removeprefix("<ProteinS>") + "<|end_of_text|>"
    check = check_pocket_answer(completion, sequence, profile)
    assert check.valid
    assert list(check.positions) == HIV["positions"]


@pytest.mark.parametrize(
    ("completion", "diverged_at", "truncated", "reason"),
    [
        ("MKT<PocketS>L<PocketE>AV<PocketS>F<PocketE>G<ProteinE>", None, False, None),
        ("MKTLAVFG<ProteinE>", None, False, None),  # no pocket: valid, empty
        ("MKT<PocketS>L<PocketE>A", None, True, "truncated after 5 of 8"),
        ("MKT<PocketS>L", None, True, "truncated after 3 of 8"),
        ("MKTLAV<ProteinE>", 6, False, "index 6"),
        ("MKTLAVFGW<ProteinE>", 8, False, "index 8"),
        ("MKQ<PocketS>L", 2, True, "index 2"),
        ("MKT<PocketS>LA<PocketE>VFG<ProteinE>", 3, False, "exactly one residue letter"),
        ("MKT<PocketS><PocketE>LAVFG<ProteinE>", 3, False, "exactly one residue letter"),
        ("MKTLAVFX<ProteinE>", 7, False, "'X' stands for an unknown residue"),
        ("MK<MoleculeS>C<MoleculeE>", None, False, "opens a molecule block"),
        ("MKTLAVFG<ProteinE><MoleculeS>CCO<MoleculeE>", None, False, None),  # after the answer: ignored
        ("", None, True, "truncated after 0 of 8"),
    ],
)
def test_pocket_answers_are_judged_without_raising(
    profile: Profile, completion: str, diverged_at: int | None, truncated: bool, reason: str | None
) -> None:
    check = check_pocket_answer(completion, "MKTLAVFG", profile)
    assert check.valid == (reason is None)
    assert (check.diverged_at, check.truncated) == (diverged_at, truncated)
    if reason is not None:
        assert reason in str(check.reason)
    assert json.loads(json.dumps(check.to_dict()))["valid"] == check.valid


TAGGY = st.lists(
    st.sampled_from([*"MKTLAVFGX<>| ", "<ProteinS>", "<ProteinE>", "<PocketS>", "<PocketE>", "<|eot_id|>"])
).map("".join)


@given(text=st.text(max_size=80) | TAGGY)
def test_checking_arbitrary_text_never_raises(profile: Profile, text: str) -> None:
    check = check_pocket_answer(text, "MKTLAVFG", profile)
    assert check.valid == (check.reason is None)


@given(text=st.text(max_size=80) | TAGGY)
def test_decoding_arbitrary_text_raises_only_decode_error(profile: Profile, text: str) -> None:
    try:
        decoded = decode_pocket_protein(text, profile, expected_sequence="MKTLAVFG")
    except DecodeError as exc:
        position = exc.position
        decoded = None
    if decoded is None:
        assert position is not None
        assert 0 <= position <= len(text)
    else:
        assert decoded.sequence == "MKTLAVFG"
        assert encode_pocket_protein(decoded.sequence, decoded.positions, profile) in text


@pytest.mark.parametrize(
    ("sequence", "positions", "fragment"),
    [
        ("MKTLAVFG", [8], "Pocket position 8 is outside the sequence (0-based indices 0..7"),
        ("MKTLAVFG", [-1], "Pocket position -1 is outside"),
        ("MKTLAVFG", [3, 5, 3], "Pocket position 3 is given twice"),
        ("MKTLAVFG", [True], "Pocket position True is not an integer"),
        ("MKTLAVFG", [2.0], "Pocket position 2.0 is not an integer"),
        ("MKTBAVFG", [1], "'B' at position 4"),
        ("MKT<PocketS>L<PocketE>", [1], "<PocketS>"),
        ("", [], "empty"),
    ],
)
def test_bad_pocket_inputs_are_rejected_naming_the_value(
    profile: Profile, sequence: str, positions: list[Any], fragment: str
) -> None:
    with pytest.raises(EncodeError) as info:
        encode_pocket_protein(sequence, positions, profile)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("<ProteinS>MK<PocketS>TL<PocketE><ProteinE>", 21),
        ("<ProteinS>MK<PocketS>x<PocketE><ProteinE>", 21),
        ("<ProteinS>MK<PocketS>T<ProteinE>", 22),
        ("<ProteinS>MK<PocketS>T<PocketE>", 31),  # the end of the text
        ("<ProteinS><PocketS>T<PocketE>L<PocketE><ProteinE>", 30),
        ("<ProteinS>MK<PocketS>T<PocketE><ProteinE>x", 41),
    ],
)
def test_malformed_marked_proteins_report_the_position(profile: Profile, text: str, position: int) -> None:
    with pytest.raises(DecodeError) as info:
        decode_pocket_protein(text, profile)
    assert info.value.position == position


def test_expected_sequence_mismatch_points_at_the_first_differing_residue(profile: Profile) -> None:
    text = "<ProteinS>MK<PocketS>T<PocketE>LAW<ProteinE>"
    with pytest.raises(DecodeError, match="index 5") as info:
        decode_pocket_protein(text, profile, expected_sequence="MKTLAV")
    assert info.value.position == text.index("W")
