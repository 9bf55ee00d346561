"""A Hugging Face checkpoint folder read lazily: config, tokenizer files and safetensors tensors.

Tensors are read straight from the safetensors files with ``pread`` into buffers the size of the
requested rows. Nothing is memory-mapped, so converting a 16 GB checkpoint keeps only the rows in
flight in memory (mapped pages would count towards the process's resident size, and a safetensors
``safe_open`` maps the whole file). The safetensors layout is small and documented: an 8-byte
little-endian header length, a JSON header mapping each tensor name to its dtype, shape and byte
range, then the raw little-endian data.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from logos_tools.errors import ConversionError

# safetensors dtype -> numpy dtype of the stored bytes (bf16 has no numpy type: kept as uint16 bits).
_DTYPES: dict[str, np.dtype[Any]] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
}
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives: file, dtype name (F32/F16/BF16), shape and byte range."""

    name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        """Size of the stored data in bytes."""
        return self.end - self.start

    @property
    def row_count(self) -> int:
        """Length of the first dimension (1 for scalars)."""
        return self.shape[0] if self.shape else 1

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (one slice along the first dimension)."""
        return self.nbytes // max(self.row_count, 1)


def _read_header(file: Path) -> dict[str, TensorEntry]:
    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            raw_len = handle.read(8)
            if len(raw_len) < 8:
                raise ConversionError(
                    f"{file} is not a safetensors file: it is shorter than 8 bytes. Download it again."
                )
            header_len = int.from_bytes(raw_len, "little")
            if header_len <= 0 or header_len > min(_MAX_HEADER_BYTES, size - 8):
                raise ConversionError(
                    f"{file} is not a valid safetensors file (header length {header_len} for a {size}-byte file). "
                    "Download it again."
                )
            header = json.loads(handle.read(header_len).decode("utf-8"))
    except OSError as exc:
        raise ConversionError(
            f"Cannot read {file}: {exc.strerror}. Check the path and permissions."
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise ConversionError(f"{file} has a corrupt safetensors header. Download it again.") from None
    data_start = 8 + header_len
    entries: dict[str, TensorEntry] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = meta.get("dtype")
        if dtype not in _DTYPES:
            raise ConversionError(
                f"Tensor {name!r} in {file.name} is stored as {dtype}; logos-tools converts F32, F16 and BF16 "
                "checkpoints only. Save the model in bf16/f16/f32 first (e.g. with transformers' save_pretrained)."
            )
        begin, end = (int(x) for x in meta["data_offsets"])
        shape = tuple(int(d) for d in meta["shape"])
        expected = math.prod(shape) * _DTYPES[dtype].itemsize
        if end - begin != expected or data_start + end > size:
            raise ConversionError(
                f"{file} is truncated or corrupt: tensor {name!r} should occupy {expected} bytes at "
                f"offset {data_start + begin}, but the file has {size} bytes. Download it again."
            )
        entries[name] = TensorEntry(name, file, dtype, shape, data_start + begin, data_start + end)
    return entries


class HFCheckpoint:
    """A local Hugging Face model folder: ``config.json``, tokenizer files and safetensors weights."""

    def __init__(self, folder: Path) -> None:
        """Index the folder without reading any tensor data.

        Raises:
            ConversionError: the folder is missing, lacks config.json or safetensors, or a file is damaged.
        """
        self.folder = folder.expanduser()
        if not self.folder.is_dir():
            raise ConversionError(
                f"{folder} is not a folder. Pass the Hugging Face checkpoint folder (the one holding config.json)."
            )
        self.config = self.read_json("config.json", required=True)
        self.tensors = self._index_tensors()

    def read_json(self, name: str, *, required: bool = False) -> dict[str, Any]:
        """A JSON file of the folder as a dict ({} when absent and not required).

        Raises:
            ConversionError: the file is required and missing, or is not valid JSON.
        """
        path = self.folder / name
        if not path.is_file():
            if required:
                raise ConversionError(
                    f"{self.folder} has no {name}, so it is not a Hugging Face checkpoint folder. "
                    "Pass the folder that holds config.json, tokenizer.json and *.safetensors."
                )
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ConversionError(f"{path} is not valid JSON ({exc}). Download the file again.") from None
        if not isinstance(data, dict):
            raise ConversionError(f"{path} does not hold a JSON object. Download the file again.")
        return data

    def _index_tensors(self) -> dict[str, TensorEntry]:
        index = self.folder / "model.safetensors.index.json"
        if index.is_file():
            weight_map = self.read_json(index.name).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise ConversionError(f"{index} has no weight_map. Download the checkpoint again.")
            files = sorted(set(weight_map.values()))
        else:
            files = sorted(p.name for p in self.folder.glob("*.safetensors"))
            weight_map = None
        if not files:
            bins = sorted(p.name for p in self.folder.glob("*.bin"))
            hint = (
                f" It has PyTorch .bin weights ({', '.join(bins[:3])}); re-save them as safetensors with "
                "transformers (model.save_pretrained(folder, safe_serialization=True))."
                if bins
                else " Download the whole checkpoint folder (config.json, tokenizer.json and every "
                "*.safetensors file), e.g. with `logos model pull`."
            )
            raise ConversionError(f"{self.folder} holds no *.safetensors weights.{hint}")
        entries: dict[str, TensorEntry] = {}
        for name in files:
            path = self.folder / name
            if not path.is_file():
                raise ConversionError(
                    f"{self.folder} lacks the weight file {name} that model.safetensors.index.json lists. "
                    "The download is incomplete: download the checkpoint again (downloads resume)."
                )
            entries.update(_read_header(path))
        if weight_map is not None:
            missing = sorted(set(weight_map) - set(entries))
            if missing:
                raise ConversionError(
                    f"{self.folder}: tensors {missing[:5]} listed in the index are in no weight file. "
                    "Download the checkpoint again."
                )
        return entries

    def entry(self, name: str) -> TensorEntry:
        """The index entry of a tensor.

        Raises:
            ConversionError: the checkpoint has no such tensor.
        """
        try:
            return self.tensors[name]
        except KeyError:
            raise ConversionError(
                f"{self.folder} has no tensor {name!r}, which this architecture needs. "
                "The checkpoint is incomplete or of another architecture."
            ) from None

    def read_rows(self, entry: TensorEntry, first: int, stop: int) -> np.ndarray[Any, Any]:
        """Rows ``first:stop`` of a tensor as stored (bf16 as uint16 bits), shape kept.

        Raises:
            ConversionError: the file cannot be read or ends early.
        """
        dtype = _DTYPES[entry.dtype]
        shape = (stop - first, *entry.shape[1:]) if entry.shape else ()
        out = np.empty(shape, dtype=dtype)
        offset = entry.start + first * entry.row_bytes
        view = out.reshape(-1).view(np.uint8).data
        try:
            with open(entry.file, "rb", buffering=0) as handle:
                handle.seek(offset)
                filled = 0
                while filled < len(view):
                    got = handle.readinto(view[filled:])
                    if not got:
                        raise ConversionError(
                            f"{entry.file} ends inside tensor {entry.name!r}. Download the checkpoint again."
                        )
                    filled += got
        except OSError as exc:
            raise ConversionError(f"Cannot read {entry.file}: {exc.strerror}.") from None
        return out

    def iter_row_chunks(self, entry: TensorEntry, chunk_bytes: int) -> Iterator[np.ndarray[Any, Any]]:
        """A tensor as consecutive row blocks of at most ``chunk_bytes`` (at least one row)."""
        rows_per_chunk = max(1, chunk_bytes // max(entry.row_bytes, 1))
        for first in range(0, entry.row_count, rows_per_chunk):
            yield self.read_rows(entry, first, min(entry.row_count, first + rows_per_chunk))

    def read(self, name: str) -> np.ndarray[Any, Any]:
        """A whole tensor as stored (bf16 as uint16 bits).

        Raises:
            ConversionError: no such tensor, or the file cannot be read.
        """
        entry = self.entry(name)
        return self.read_rows(entry, 0, entry.row_count)


def to_float32(data: np.ndarray[Any, Any], dtype: str) -> np.ndarray[Any, Any]:
    """Stored values (F32, F16, or BF16 bits) as float32."""
    if dtype == "BF16":
        bits = data.astype(np.uint32)
        bits <<= 16  # in place: one temporary of the float32 size, not two
        return bits.view(np.float32)
    return data.astype(np.float32, copy=False)


def float32_to_bf16_bits(data: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """float32 values rounded to nearest-even bfloat16, as uint16 bits (NaN stays NaN)."""
    bits = np.ascontiguousarray(data, dtype=np.float32).view(np.uint32)
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    rounded = (bits + (0x7FFF + ((bits >> 16) & 1))) >> 16
    rounded = np.where(is_nan, (bits >> 16) | 0x40, rounded)
    return rounded.astype(np.uint16)


def free_disk_bytes(folder: Path) -> int:
    """Free bytes on the file system holding ``folder``."""
    return shutil.disk_usage(folder).free
