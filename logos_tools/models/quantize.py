"""Quantize a GGUF with llama.cpp's own quantizer (``llama_model_quantize`` via llama-cpp-python).

The Python binding exposes no progress callback for quantization, so progress is reported as a
start and an end log line with the elapsed time. llama.cpp copies every metadata key (including
the ``logos.*`` keys and the tag token types) into the output. The output is written under a
temporary name and renamed when llama.cpp reports success.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path

import llama_cpp
import llama_cpp.llama_cpp as llama_lowlevel
from pydantic import BaseModel, ConfigDict

from logos_tools.errors import InputError, ModelFileError
from logos_tools.models.atomic import check_output_file, temporary_output
from logos_tools.models.gguf_file import inspect_gguf
from logos_tools.models.native import install_log_router

logger = logging.getLogger(__name__)

# Types offered to users; llama.cpp knows more (IQ*, TQ*), which need an importance matrix or
# special models and are left out on purpose.
QUANT_TYPES: dict[str, int] = {
    "Q4_0": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q4_0,
    "Q4_1": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q4_1,
    "Q5_0": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q5_0,
    "Q5_1": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q5_1,
    "Q8_0": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q2_K": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q2_K,
    "Q3_K_S": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q3_K_S,
    "Q3_K_M": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q3_K_M,
    "Q3_K_L": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q3_K_L,
    "Q4_K_S": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q4_K_S,
    "Q4_K_M": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_S": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q5_K_S,
    "Q5_K_M": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": llama_lowlevel.LLAMA_FTYPE_MOSTLY_Q6_K,
    "F16": llama_lowlevel.LLAMA_FTYPE_MOSTLY_F16,
    "BF16": llama_lowlevel.LLAMA_FTYPE_MOSTLY_BF16,
}


class QuantizeReport(BaseModel):
    """What ``quantize_gguf`` wrote."""

    model_config = ConfigDict(frozen=True)

    source: str
    output: str
    type: str
    source_type: str
    source_size: int
    output_size: int
    ratio: float
    bits_per_weight: float
    threads: int
    elapsed_s: float


def quant_type_id(name: str) -> int:
    """llama.cpp's file-type id of a quantization name (case-insensitive).

    Raises:
        InputError: the name is not one of ``QUANT_TYPES``.
    """
    key = name.strip().upper()
    if key not in QUANT_TYPES:
        raise InputError(
            f"Quantization type {name!r} is not supported. Use one of: {', '.join(QUANT_TYPES)} "
            "(Q4_K_M is the usual choice for CPUs, Q8_0 is nearly lossless)."
        )
    return QUANT_TYPES[key]


def quantize_gguf(src: Path, dst: Path, type: str, *, nthread: int | None = None) -> QuantizeReport:
    """Quantize ``src`` (an f32/f16/bf16 GGUF) into ``dst`` with llama.cpp's quantizer.

    Args:
        src: input GGUF, normally the f16 output of ``convert_checkpoint``.
        dst: output file (written atomically; an existing file is replaced only on success).
        type: quantization name, e.g. "Q4_K_M", "Q5_K_M", "Q8_0", "Q6_K", "Q4_0".
        nthread: CPU threads (None: all cores).

    Raises:
        InputError: unknown quantization type, ``src`` and ``dst`` are the same file, or ``dst``
            is a folder or lies under a file.
        ModelNotFoundError: ``src`` does not exist.
        ModelFileError: ``src`` is not a readable GGUF or llama.cpp fails to quantize it.
    """
    ftype = quant_type_id(type)
    src = Path(src).expanduser()
    info = inspect_gguf(src, compute_sha256=False)
    dst = Path(dst).expanduser()
    # samefile also catches symlinks and hard links to the input.
    if dst.exists() and dst.is_file() and dst.samefile(src):
        raise InputError(f"Output {dst} is the input file. Write the quantized model to a new path.")
    dst = check_output_file(dst)
    if info.is_quantized and info.quantization.upper() != type.upper():
        logger.warning(
            "%s is already quantized (%s); requantizing loses more quality than quantizing the f16 file",
            src,
            info.quantization,
        )
    threads = nthread or os.cpu_count() or 1
    params = llama_lowlevel.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = info.is_quantized
    install_log_router()
    logger.info(
        "quantizing %s (%s) to %s with %d threads: no progress is reported until done",
        src,
        info.quantization,
        type,
        threads,
    )
    started = time.perf_counter()
    with temporary_output(dst) as tmp_path:
        status = llama_cpp.llama_model_quantize(
            str(src).encode("utf-8"), str(tmp_path).encode("utf-8"), ctypes.byref(params)
        )
        if status != 0:
            raise ModelFileError(
                f"llama.cpp failed to quantize {src} to {type} (status {status}). Run with -vv to see "
                "llama.cpp's log; check the input with `logos model info` and the free disk space."
            )
    elapsed = time.perf_counter() - started
    out_size = dst.stat().st_size
    logger.info("quantized %s -> %s in %.1f s", src, dst, elapsed)
    return QuantizeReport(
        source=str(src),
        output=str(dst),
        type=type.upper(),
        source_type=info.quantization,
        source_size=info.file_size,
        output_size=out_size,
        ratio=round(out_size / info.file_size, 4),
        bits_per_weight=round(8 * out_size / max(info.parameter_count, 1), 3),
        threads=threads,
        elapsed_s=round(elapsed, 3),
    )
