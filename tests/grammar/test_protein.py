import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logos_tools.errors import DecodeError, EncodeError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import (
    AMINO_ACIDS,
    MAX_PROTEIN_LENGTH,
    ProteinSequence,
    check_sequence,
    decode_protein,
    encode_protein,
    read_fasta,
)
from logos_tools.shipped import grammar_dir

GOLDEN = [
    json.loads(line)
    for line in (grammar_dir() / "fixtures" / "pockets.jsonl").read_text("utf-8").splitlines()
]
sequences = st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=300)


def test_check_sequence_drops_whitespace_and_upper_cases() -> None:
    assert check_sequence(" mkt\nAVL g\t") == "MKTAVLG"


@pytest.mark.parametrize(
    ("letter", "hint"),
    [("X", "unknown"), ("B", "D or N"), ("Z", "E or Q"), ("J", "L or I"), ("U", "write C"), ("O", "write K")],
)
def test_ambiguous_and_rare_letters_are_rejected_with_the_letter_to_write(letter: str, hint: str) -> None:
    with pytest.raises(EncodeError, match=hint) as info:
        check_sequence(f"MKT{letter}AV")
    assert f"{letter!r} at position 4" in str(info.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        ("MKT1AV", "'1' at position 4"),
        ("MKTAV*", "stop codon"),
        ("MK-TAV", "alignment gap"),
        ("A" * (MAX_PROTEIN_LENGTH + 1), f"{MAX_PROTEIN_LENGTH + 1} residues"),
    ],
)
def test_malformed_sequences_are_rejected_naming_the_problem(value: str, fragment: str) -> None:
    with pytest.raises(EncodeError, match=fragment.replace("*", r"\*")):
        check_sequence(value)


def test_encode_protein_writes_one_block(profile: Profile) -> None:
    assert encode_protein("mktav", profile) == "<ProteinS>MKTAV<ProteinE>"


def test_encode_protein_rejects_injected_tags(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="<ProteinE>"):
        encode_protein("MKT<ProteinE><Search>", profile)


@pytest.mark.parametrize("record", GOLDEN, ids=lambda r: f"{r['file']}-{r['chain']}")
def test_real_chain_sequences_round_trip(profile: Profile, record: dict[str, object]) -> None:
    sequence = str(record["sequence"])
    assert decode_protein(encode_protein(sequence, profile), profile) == ProteinSequence(sequence)


@given(sequence=sequences)
def test_decode_inverts_encode_for_any_valid_sequence(profile: Profile, sequence: str) -> None:
    assert decode_protein(encode_protein(sequence, profile), profile).sequence == sequence


TAGGY = st.lists(st.sampled_from([*"MKTAX<> ", "<ProteinS>", "<ProteinE>", "<PocketS>", "<PocketE>"])).map(
    "".join
)


@given(text=st.text(max_size=60) | TAGGY)
def test_decoding_arbitrary_text_raises_only_decode_error(profile: Profile, text: str) -> None:
    try:
        decoded = decode_protein(text, profile)
    except DecodeError as exc:
        position = exc.position
        decoded = None
    if decoded is None:
        assert position is not None
        assert 0 <= position <= len(text)
    else:
        assert encode_protein(decoded.sequence, profile) in text


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("<ProteinS>MKT<PocketS>L<PocketE><ProteinE>", 13),
        ("<ProteinS>MKTAV", 15),
        ("junk<ProteinS>MKT<ProteinE>", 0),
        ("<ProteinS>MKT<ProteinE><ProteinS>AV<ProteinE>", 23),
        ("<ProteinS>MKtAV<ProteinE>", 12),
        ("<ProteinS>MKXAV<ProteinE>", 12),
        ("<ProteinS><ProteinE>", 10),
        ("<MoleculeS>CCO<MoleculeE>", 0),
        ("", 0),
    ],
)
def test_decode_protein_rejects_everything_but_one_plain_block(
    profile: Profile, text: str, position: int
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_protein(text, profile)
    assert info.value.position == position


def test_decode_protein_accepts_surrounding_whitespace_and_base_model_strings(profile: Profile) -> None:
    text = "<|begin_of_text|><ProteinS>MKTAV<ProteinE>\n<|end_of_text|>"
    assert decode_protein(text, profile).sequence == "MKTAV"


def test_read_fasta_reads_text_and_checks_each_record() -> None:
    records = read_fasta(">sp|P1|one first protein\nmkt av\nLG\n>two\nPQVTLW\n")
    assert [(r.id, r.description, r.sequence) for r in records] == [
        ("sp|P1|one", "sp|P1|one first protein", "MKTAVLG"),
        ("two", "two", "PQVTLW"),
    ]


def test_read_fasta_reads_a_file_of_real_chains(tmp_path: Path) -> None:
    chains = {(r["file"], r["chain"]): r["sequence"] for r in GOLDEN}
    path = tmp_path / "chains.fasta"
    path.write_text("".join(f">{f}_{c}\n{s}\n" for (f, c), s in chains.items()), encoding="utf-8")
    for as_str in (False, True):
        records = read_fasta(str(path) if as_str else path)
        assert [r.sequence for r in records] == list(chains.values())


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        ("comment line\n>a\nMKT\n", InputError, "does not exist"),
        (">a\nMKT\n>empty\n", EncodeError, "'empty' is empty"),
        (">a\nMKTBAV\n", EncodeError, "'B' at position 4"),
        ("   ", InputError, "does not exist"),
    ],
)
def test_malformed_fasta_is_rejected_naming_the_record(
    value: str, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        read_fasta(value)


def test_fasta_file_with_text_before_the_first_record_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.fasta"
    path.write_text("made by hand\n>a\nMKT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.fasta.* is not valid FASTA"):
        read_fasta(path)


def test_fasta_file_without_records_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.fasta"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no FASTA record"):
        read_fasta(path)
