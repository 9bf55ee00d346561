from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logos_tools.errors import ModelFileError, ModelNotFoundError
from logos_tools.grammar.profile import Profile
from logos_tools.models.gguf_file import inspect_gguf, is_quantized_file


def test_inspect_reports_architecture_vocabulary_tags_and_hash(
    tiny_llama_f32: Path, profile: Profile
) -> None:
    info = inspect_gguf(tiny_llama_f32, tags=profile.all_tags())
    assert info.architecture == "llama"
    assert info.quantization == "F32"
    assert info.file_size == tiny_llama_f32.stat().st_size
    assert info.sha256 == hashlib.sha256(tiny_llama_f32.read_bytes()).hexdigest()
    assert info.context_length == 512
    assert info.embedding_length == 64
    assert info.block_count == 2
    assert info.vocab_size == 516
    assert (info.tokenizer_model, info.tokenizer_pre) == ("gpt2", "llama-bpe")
    assert info.tags_missing == []
    assert [t.tag for t in info.tags] == list(profile.all_tags())
    assert info.tag_ids()["<MoleculeS>"] == info.tags[0].token_id
    assert info.parameter_count > 100_000
    assert not info.is_quantized
    assert not info.is_demo


def test_quantized_files_are_recognised(tiny_llama_q8: Path, tiny_llama_f16: Path) -> None:
    info = inspect_gguf(tiny_llama_q8, compute_sha256=False)
    assert info.quantization == "Q8_0"
    assert info.is_quantized
    assert info.sha256 is None
    assert is_quantized_file(tiny_llama_q8)
    assert not is_quantized_file(tiny_llama_f16)


def test_tags_absent_from_the_vocabulary_are_listed_as_missing(tiny_llama_f32: Path) -> None:
    info = inspect_gguf(tiny_llama_f32, tags=["<MoleculeS>", "<Nope>"], compute_sha256=False)
    assert info.tags_missing == ["<Nope>"]
    assert info.tags[1].token_id is None


def test_hash_is_cached_by_size_and_mtime(tiny_llama_f16: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(tiny_llama_f16.read_bytes())
    cache = tmp_path / "sha256-cache.json"
    real = inspect_gguf(model, hash_cache=cache).sha256
    entries = json.loads(cache.read_text(encoding="utf-8"))
    entries[str(model.resolve())]["sha256"] = "0" * 64
    cache.write_text(json.dumps(entries), encoding="utf-8")
    assert inspect_gguf(model, hash_cache=cache).sha256 == "0" * 64  # served from the cache
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert inspect_gguf(model, hash_cache=cache).sha256 == real  # a touched file is hashed again


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="No model file at"):
        inspect_gguf(tmp_path / "nothing.gguf")


def test_empty_file_is_reported_as_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"empty\.gguf is empty \(0 bytes\).*again"):
        inspect_gguf(empty)


def test_folder_is_not_a_gguf(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a folder"):
        inspect_gguf(tmp_path)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"just some notes\n" * 10, "bytes b'just'"),
        (b"PK\x03\x04" + b"\0" * 100, "zip archive"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{" + b'"a":1}' + b"\0" * 40, "safetensors"),
        (b"ggjt" + b"\0" * 100, "GGJT"),
    ],
)
def test_non_gguf_files_say_what_they_are_and_how_to_convert(
    tmp_path: Path, content: bytes, what: str
) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=rf"not a GGUF file.*{what}.*logos model convert"):
        inspect_gguf(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95, 0.999])
def test_truncated_gguf_is_reported_as_truncated(tiny_llama_f32: Path, tmp_path: Path, keep: float) -> None:
    data = tiny_llama_f32.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFileError, match=r"cut\.gguf.*(truncated|corrupt)"):
        inspect_gguf(cut)


def test_header_cut_inside_the_magic_block_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "short.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(ModelFileError, match="truncated"):
        inspect_gguf(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(min_size=0, max_size=300), version=st.sampled_from([2, 3, 7]))
def test_garbage_after_the_magic_always_gives_model_file_error(
    tmp_path: Path, tail: bytes, version: int
) -> None:
    path = tmp_path / "fuzz.gguf"
    path.write_bytes(b"GGUF" + version.to_bytes(4, "little") + tail)
    with pytest.raises(ModelFileError, match=r"fuzz\.gguf"):
        inspect_gguf(path, compute_sha256=False)


def test_corrupted_metadata_bytes_give_model_file_error(tiny_llama_f32: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_llama_f32.read_bytes())
    data[24:32] = (2**62).to_bytes(8, "little")  # length of the first key: absurd
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"corrupt\.gguf"):
        inspect_gguf(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(
        st.tuples(st.integers(min_value=8, max_value=12_000), st.integers(0, 255)), min_size=1, max_size=6
    )
)
def test_flipped_header_bytes_never_escape_as_anything_but_model_file_error(
    tiny_llama_f32: Path, tmp_path: Path, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(tiny_llama_f32.read_bytes())
    for position, value in flips:
        data[position] = value
    path = tmp_path / "flipped.gguf"
    path.write_bytes(bytes(data))
    try:
        inspect_gguf(path, compute_sha256=False)
    except ModelFileError as exc:
        message = str(exc)
    else:
        message = "flipped.gguf parsed"
    assert "flipped.gguf" in message


def test_a_damaged_length_field_is_reported_as_corrupt_not_as_truncated(
    tiny_llama_f16: Path, tmp_path: Path
) -> None:
    data = bytearray(tiny_llama_f16.read_bytes())
    data[24:32] = (2**63).to_bytes(8, "little")  # the length of the first metadata key
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(bytes(data))
    with pytest.raises(
        ModelFileError,
        match=r"header is corrupt \(a string at byte 32 claims \d+ bytes, more than the whole file\)",
    ):
        inspect_gguf(damaged)
