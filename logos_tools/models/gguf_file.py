"""Read what a GGUF file is without loading its weights: architecture, quantization, vocabulary, tags.

The header, metadata and tensor table are parsed here with ``struct`` from the first few MB of the
file (read, not mapped), using the ``gguf`` library's type tables. ``gguf.GGUFReader``
is not used on purpose: it builds numpy views for every vocabulary string and merge, which takes
4-10 s for a Llama-3 vocabulary (128k tokens, 280k merges), and every model load asks whether the
file is quantized. Arrays nobody asks for (merges) are skipped, not decoded.

Damaged files are reported as ``ModelFileError`` naming the path and what is wrong (empty, not GGUF,
truncated, corrupt header), never as a bare ``ValueError``/``IndexError``/``struct.error``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from pydantic import BaseModel, ConfigDict

from logos_tools.errors import ModelFileError, ModelNotFoundError
from logos_tools.models.digest import sha256_file

GGUF_MAGIC = b"GGUF"
# Magic + version + tensor count + kv count: the smallest possible GGUF header.
_MIN_HEADER_BYTES = 24
# Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
TOKEN_TYPE_NAMES = {
    0: "undefined",
    1: "normal",
    2: "unknown",
    3: "control",
    4: "user_defined",
    5: "unused",
    6: "byte",
}
_FLOAT_TYPES = frozenset(
    {gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16}
)
_KNOWN_PREFIXES = {
    b"PK\x03\x04": "a zip archive (a PyTorch .bin/.pt checkpoint?)",
    b"\x89HDF": "an HDF5 file",
    b"{": "a JSON text file",
    b"ggml": "an old GGML/GGJT model, from before GGUF",
    b"ggjt": "an old GGJT model, from before GGUF",
    b"lmgg": "an old GGML model, from before GGUF",
}
# Arrays decoded by default; every other array is skipped (only its length is kept).
DEFAULT_ARRAYS = frozenset({"tokenizer.ggml.tokens", "tokenizer.ggml.token_type"})
_SCALAR_FORMATS: dict[int, str] = {
    gguf.GGUFValueType.UINT8: "<B",
    gguf.GGUFValueType.INT8: "<b",
    gguf.GGUFValueType.UINT16: "<H",
    gguf.GGUFValueType.INT16: "<h",
    gguf.GGUFValueType.UINT32: "<I",
    gguf.GGUFValueType.INT32: "<i",
    gguf.GGUFValueType.FLOAT32: "<f",
    gguf.GGUFValueType.BOOL: "<?",
    gguf.GGUFValueType.UINT64: "<Q",
    gguf.GGUFValueType.INT64: "<q",
    gguf.GGUFValueType.FLOAT64: "<d",
}
_MAX_DIMS = 8
_FIRST_READ = 4 * 1024 * 1024


class _Corrupt(Exception):
    """Raised inside the parser; mapped to ModelFileError with the path at the boundary."""


class _Truncated(_Corrupt):
    pass


@dataclass
class TensorRecord:
    """One entry of the tensor table."""

    name: str
    shape: tuple[int, ...]
    ggml_type: gguf.GGMLQuantizationType
    offset: int
    n_elements: int
    n_bytes: int


@dataclass
class GGUFHeader:
    """The parsed header: version, metadata (decoded values; skipped arrays as their lengths) and tensors."""

    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]
    tensors: list[TensorRecord]
    data_offset: int
    skipped_arrays: set[str] = field(default_factory=set)


class _Cursor:
    def __init__(self, buffer: Any, file_size: int) -> None:
        self.buffer = buffer
        self.size = len(buffer)
        self.file_size = file_size
        self.pos = 0

    def _past_end(self, what: str, length: int) -> _Corrupt:
        # A length beyond the size of the whole file is a damaged length field, not a copy cut short.
        if length > self.file_size:
            return _Corrupt(f"{what} at byte {self.pos} claims {length} bytes, more than the whole file")
        return _Truncated(f"{what} of {length} bytes at byte {self.pos} runs past the end of the file")

    def take(self, fmt: str) -> Any:
        width = struct.calcsize(fmt)
        if self.pos + width > self.size:
            raise _Truncated(f"the header ends at byte {self.size} inside a value at byte {self.pos}")
        (value,) = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += width
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if self.pos + length > self.size:
            raise self._past_end("a string", length)
        raw = bytes(self.buffer[self.pos : self.pos + length])
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt(f"a metadata string at byte {self.pos - length} is not UTF-8") from None

    def skip_string(self) -> None:
        length = self.take("<Q")
        if self.pos + length > self.size:
            raise self._past_end("a string", length)
        self.pos += length

    def value(self, value_type: int, *, decode: bool, depth: int = 0) -> Any:
        if value_type in _SCALAR_FORMATS:
            return self.take(_SCALAR_FORMATS[value_type])
        if value_type == gguf.GGUFValueType.STRING:
            return self.string()
        if value_type == gguf.GGUFValueType.ARRAY:
            if depth > 2:
                raise _Corrupt("arrays are nested too deeply")
            item_type = self.take("<I")
            count = self.take("<Q")
            return self.array(item_type, count, decode=decode, depth=depth + 1)
        raise _Corrupt(f"unknown metadata value type {value_type} at byte {self.pos - 4}")

    def array(self, item_type: int, count: int, *, decode: bool, depth: int) -> Any:
        if count > self.size - self.pos:  # every item takes at least one byte
            raise self._past_end(f"an array of {count} items", count)
        if item_type in _SCALAR_FORMATS:
            fmt = _SCALAR_FORMATS[item_type]
            width = struct.calcsize(fmt)
            if self.pos + width * count > self.size:
                raise _Truncated(
                    f"an array of {count} values at byte {self.pos} runs past the end of the file"
                )
            start = self.pos
            self.pos += width * count
            if not decode:
                return count
            values = np.frombuffer(self.buffer, dtype=np.dtype(fmt), count=count, offset=start)
            return values.tolist()
        if item_type == gguf.GGUFValueType.STRING:
            if not decode:
                for _ in range(count):
                    self.skip_string()
                return count
            return [self.string() for _ in range(count)]
        if not decode:
            for _ in range(count):
                self.value(item_type, decode=False, depth=depth)
            return count
        return [self.value(item_type, decode=True, depth=depth) for _ in range(count)]


def _parse(buffer: Any, file_size: int, wanted_arrays: frozenset[str]) -> GGUFHeader:
    cursor = _Cursor(buffer, file_size)
    if bytes(buffer[:4]) != GGUF_MAGIC:
        raise _Corrupt("bad magic")
    cursor.pos = 4
    version = cursor.take("<I")
    if version not in (2, 3):
        if version & 0xFFFF == 0:
            raise _Corrupt("it is a big-endian GGUF, which llama.cpp on this machine cannot load")
        raise _Corrupt(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors = cursor.take("<Q")
    n_kv = cursor.take("<Q")
    if n_kv > file_size or n_tensors > file_size:
        raise _Corrupt(f"the header claims {n_kv} metadata keys and {n_tensors} tensors")
    metadata: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    skipped: set[str] = set()
    for _ in range(n_kv):
        key = cursor.string()
        value_type = cursor.take("<I")
        decode = value_type != gguf.GGUFValueType.ARRAY or key in wanted_arrays or key.startswith("logos.")
        value = cursor.value(value_type, decode=decode)
        if value_type == gguf.GGUFValueType.ARRAY:
            lengths[key] = len(value) if decode else int(value)
            if not decode:
                skipped.add(key)
                continue
        metadata[key] = value
    tensors: list[TensorRecord] = []
    for _ in range(n_tensors):
        name = cursor.string()
        n_dims = cursor.take("<I")
        if n_dims > _MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} claims {n_dims} dimensions")
        dims = tuple(int(cursor.take("<Q")) for _ in range(n_dims))
        raw_type = cursor.take("<I")
        offset = cursor.take("<Q")
        try:
            ggml_type = gguf.GGMLQuantizationType(raw_type)
            block, type_size = gguf.GGML_QUANT_SIZES[ggml_type]
        except (ValueError, KeyError):
            raise _Corrupt(
                f"tensor {name!r} has the unknown type {raw_type} (a newer llama.cpp format?)"
            ) from None
        n_elements = int(np.prod(dims, dtype=np.float64)) if dims else 1
        tensors.append(
            TensorRecord(name, dims, ggml_type, offset, n_elements, n_elements * type_size // block)
        )
    alignment = metadata.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Corrupt(f"general.alignment {alignment!r} is not a power of two")
    data_offset = cursor.pos + (-cursor.pos % alignment)
    return GGUFHeader(version, metadata, lengths, tensors, data_offset, skipped)


def check_gguf_header(path: Path) -> None:
    """Fail fast unless ``path`` is a non-empty file that starts with the GGUF magic.

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is empty, shorter than a GGUF header, or another kind of file.
    """
    if not path.exists():
        raise ModelNotFoundError(
            f"No model file at {path}. Pass the path of a .gguf file, or a name from `logos model list`."
        )
    if not path.is_file():
        raise ModelFileError(f"{path} is a folder, not a GGUF file. Pass the path of a .gguf file inside it.")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(
            f"{path} is empty (0 bytes), so it is not a GGUF model. "
            "The download or conversion was interrupted: fetch or convert it again."
        )
    with open(path, "rb") as handle:
        head = handle.read(_MIN_HEADER_BYTES)
    if head[:4] != GGUF_MAGIC:
        kind = next((what for prefix, what in _KNOWN_PREFIXES.items() if head.startswith(prefix)), None)
        if kind is None and len(head) >= 9 and head[8:9] == b"{":
            kind = "a safetensors file (Hugging Face weights)"
        found = kind or f"a file starting with bytes {head[:4]!r}"
        raise ModelFileError(
            f"{path} is not a GGUF file: GGUF files start with b'GGUF', this is {found}. "
            "Convert a Hugging Face checkpoint folder with `logos model convert HF_DIR OUT.gguf`."
        )
    if size < _MIN_HEADER_BYTES:
        raise ModelFileError(
            f"{path} is truncated: {size} bytes is shorter than a GGUF header ({_MIN_HEADER_BYTES} bytes). "
            "Copy or convert the file again."
        )


def read_header(path: Path, *, arrays: Iterable[str] = DEFAULT_ARRAYS) -> GGUFHeader:
    """Parse the header, metadata and tensor table of a GGUF file (no tensor data is read).

    Args:
        path: the .gguf file.
        arrays: metadata arrays to decode (``logos.*`` arrays always are); others keep only their length.

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is empty, truncated, corrupt or not GGUF.
    """
    check_gguf_header(path)
    size = path.stat().st_size
    try:
        # Read a prefix and grow it until the header fits: headers are a few MB (vocabulary and
        # merges), the tensor data after them is never read.
        chunk = min(size, _FIRST_READ)
        while True:
            with open(path, "rb") as handle:
                prefix = handle.read(chunk)
            try:
                header = _parse(prefix, size, frozenset(arrays))
                break
            except _Truncated:
                if chunk >= size:
                    raise
                chunk = min(size, chunk * 4)
    except _Truncated as exc:
        raise ModelFileError(
            f"{path} ({size} bytes) is truncated: {exc}. The copy or download was cut short: fetch or "
            "convert it again."
        ) from None
    except _Corrupt as exc:
        raise ModelFileError(
            f"{path} ({size} bytes) is not a readable GGUF file: its header is corrupt ({exc}). "
            "Copy or convert the file again."
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Cannot read {path}: {exc}. Check the file and its permissions.") from None
    end = max((header.data_offset + t.offset + t.n_bytes for t in header.tensors), default=header.data_offset)
    if end > size:
        raise ModelFileError(
            f"{path} is truncated: its tensors need {end} bytes but the file has {size}. "
            "The copy or download was cut short: fetch or convert it again."
        )
    return header


class TagInfo(BaseModel):
    """One LOGOS tag as the file's vocabulary holds it."""

    model_config = ConfigDict(frozen=True)

    tag: str
    token_id: int | None
    token_type: str | None


class GGUFInfo(BaseModel):
    """What a GGUF file holds, read from its header and metadata only."""

    model_config = ConfigDict(frozen=True)

    path: str
    file_size: int
    sha256: str | None
    gguf_version: int
    architecture: str
    general_name: str | None  # the file's own `general.name`, often the source folder's name
    file_type: int | None
    quantization: str
    tensor_types: dict[str, int]
    parameter_count: int
    tensor_count: int
    context_length: int | None
    embedding_length: int | None
    block_count: int | None
    vocab_size: int
    tokenizer_model: str | None
    tokenizer_pre: str | None
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    add_bos: bool | None
    tags: list[TagInfo]
    tags_missing: list[str]
    logos_metadata: dict[str, Any]
    is_demo: bool

    @property
    def is_quantized(self) -> bool:
        """True when some weight tensor is stored in a quantized (non-float) type."""
        return any(name not in {"F32", "F16", "BF16"} for name in self.tensor_types)

    def tag_ids(self) -> dict[str, int]:
        """The token id of every tag found in the vocabulary."""
        return {tag.tag: tag.token_id for tag in self.tags if tag.token_id is not None}


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None


def _quantization_name(file_type: int | None, tensor_types: dict[str, int]) -> str:
    if file_type is not None:
        try:
            name = gguf.LlamaFileType(file_type).name
        except ValueError:
            name = ""
        for prefix in ("MOSTLY_", "ALL_"):
            if name.startswith(prefix):
                return name[len(prefix) :]
    # Without general.file_type: the most common non-F32 type (norms are F32 in every file).
    weights = {k: v for k, v in tensor_types.items() if k != "F32"} or tensor_types
    return max(weights, key=lambda k: weights[k]) if weights else "unknown"


def find_tokens(tokens: list[str], token_types: list[int] | None, wanted: Iterable[str]) -> list[TagInfo]:
    """Look up each wanted string in a vocabulary list; record its id and token type."""
    wanted = list(wanted)
    index: dict[str, int] = {}
    wanted_set = set(wanted)
    for position, token in enumerate(tokens):
        if token in wanted_set and token not in index:
            index[token] = position
    found = []
    for tag in wanted:
        token_id = index.get(tag)
        token_type: str | None = None
        if token_id is not None and token_types is not None and token_id < len(token_types):
            token_type = TOKEN_TYPE_NAMES.get(int(token_types[token_id]), str(token_types[token_id]))
        found.append(TagInfo(tag=tag, token_id=token_id, token_type=token_type))
    return found


def inspect_gguf(
    path: Path,
    *,
    tags: Iterable[str] = (),
    compute_sha256: bool = True,
    hash_cache: Path | None = None,
) -> GGUFInfo:
    """Describe a GGUF file from its header and metadata, never loading weights.

    Args:
        path: the .gguf file.
        tags: strings to look up in the vocabulary (normally ``profile.all_tags()``).
        compute_sha256: stream the file through SHA-256 (cached in ``hash_cache`` when given).
        hash_cache: JSON cache of hashes keyed by path, size and mtime.

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is empty, truncated, corrupt, not GGUF, or has no vocabulary.
    """
    path = path.expanduser()
    header = read_header(path)
    meta = header.metadata
    size = path.stat().st_size
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise ModelFileError(
            f"{path} has no general.architecture key, so llama.cpp cannot load it. "
            "It was not written by a model converter: convert the checkpoint again."
        )
    tokens = meta.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not tokens:
        raise ModelFileError(
            f"{path} has no vocabulary (tokenizer.ggml.tokens), so it cannot tokenize prompts. "
            "Convert the checkpoint again with `logos model convert`."
        )
    token_types = meta.get("tokenizer.ggml.token_type")
    tensor_types: dict[str, int] = {}
    for tensor in header.tensors:
        tensor_types[tensor.ggml_type.name] = tensor_types.get(tensor.ggml_type.name, 0) + 1
    file_type = _int_or_none(meta.get("general.file_type"))
    tag_infos = find_tokens(tokens, token_types if isinstance(token_types, list) else None, list(tags))
    logos_meta = {key: value for key, value in meta.items() if key.startswith("logos.")}
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    name = meta.get("general.name")
    tokenizer_model = meta.get("tokenizer.ggml.model")
    tokenizer_pre = meta.get("tokenizer.ggml.pre")
    return GGUFInfo(
        path=str(path),
        file_size=size,
        sha256=sha256_file(path, cache_path=hash_cache) if compute_sha256 else None,
        gguf_version=header.version,
        architecture=arch,
        general_name=name if isinstance(name, str) else None,
        file_type=file_type,
        quantization=_quantization_name(file_type, tensor_types),
        tensor_types=tensor_types,
        parameter_count=sum(t.n_elements for t in header.tensors),
        tensor_count=len(header.tensors),
        context_length=_int_or_none(meta.get(f"{arch}.context_length")),
        embedding_length=_int_or_none(meta.get(f"{arch}.embedding_length")),
        block_count=_int_or_none(meta.get(f"{arch}.block_count")),
        vocab_size=len(tokens),
        tokenizer_model=tokenizer_model if isinstance(tokenizer_model, str) else None,
        tokenizer_pre=tokenizer_pre if isinstance(tokenizer_pre, str) else None,
        bos_id=_int_or_none(meta.get("tokenizer.ggml.bos_token_id")),
        eos_id=_int_or_none(meta.get("tokenizer.ggml.eos_token_id")),
        pad_id=_int_or_none(meta.get("tokenizer.ggml.padding_token_id")),
        add_bos=add_bos if isinstance(add_bos, bool) else None,
        tags=tag_infos,
        tags_missing=[t.tag for t in tag_infos if t.token_id is None],
        logos_metadata=logos_meta,
        is_demo=bool(logos_meta.get("logos.demo", False)),
    )


def is_quantized_file(path: Path) -> bool:
    """True when any tensor of the file is stored in a quantized type (not F32/F16/BF16).

    Raises:
        ModelNotFoundError: no file exists at ``path``.
        ModelFileError: the file is not a readable GGUF.
    """
    header = read_header(path, arrays=())
    return any(t.ggml_type not in _FLOAT_TYPES for t in header.tensors)
