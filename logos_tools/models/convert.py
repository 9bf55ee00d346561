"""Hugging Face checkpoint folder -> GGUF, written by our own code on the ``gguf`` library.

Architectures ``llama`` (LOGOS-pretrain-1B/3B) and ``qwen3`` (LOGOS-8B); output types f32, f16 and
bf16 (quantize afterwards with ``quantize_gguf``).

Streaming: the GGUF header, metadata and tensor table are written first (``GGUFWriter`` with
``add_tensor_info``), then each tensor's data is read from the safetensors files in row blocks of
about 16 MiB, converted and appended, so memory stays near one block however large the checkpoint
is. Only the q/k projections are read whole (their RoPE permutation reorders rows); they are small.

Tensor mapping follows llama.cpp's names (``token_embd``, ``blk.N.attn_q`` ...). Llama q/k weights are
permuted from Hugging Face's rotate-half layout to GGML's interleaved RoPE layout; Qwen3 uses
NEOX-style RoPE in llama.cpp and needs no permutation, but has per-head ``attn_q_norm``/``attn_k_norm``.
Llama-3.1/3.2 ``rope_type="llama3"`` frequency scaling is written as the ``rope_freqs`` tensor, as
llama.cpp expects. Tied embeddings simply omit ``output.weight`` (llama.cpp reuses ``token_embd``).

Tokenizer: written as BPE (``tokenizer.ggml.model="gpt2"``) with the pre-tokenizer detected from
``tokenizer.json`` (see ``vocab.py``; unknown families are refused, never guessed).

LOGOS tags are written as USER_DEFINED tokens by default, not CONTROL (``tag_token_type``): llama.cpp
servers (llama-server, ``llama_cpp.server``) detokenize CONTROL tokens to empty text, so tags would
vanish from every served answer and ``stop=["<MoleculeE>"]`` would never fire. USER_DEFINED tags still
tokenize as single tokens (with and without special-token parsing) and are rendered in text.
``tag_token_type="control"`` reproduces the Hugging Face marking (added tokens with special=True).

Metadata written for logos-tools: ``logos.profile``, ``logos.tag_names`` / ``logos.tag_ids`` (parallel
arrays), ``logos.tag_token_type``, ``logos.demo`` and ``logos.converter``.

The output is written to a temporary file next to ``out_path`` and renamed only when complete.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
from pydantic import BaseModel, ConfigDict

from logos_tools import __version__
from logos_tools.errors import ConversionError
from logos_tools.grammar.profile import load_profile
from logos_tools.models.atomic import check_output_file, temporary_output
from logos_tools.models.checkpoint import (
    HFCheckpoint,
    TensorEntry,
    float32_to_bf16_bits,
    free_disk_bytes,
    to_float32,
)
from logos_tools.models.vocab import TagTokenType, Vocabulary, build_vocabulary

logger = logging.getLogger(__name__)

OutType = Literal["f32", "f16", "bf16"]
Architecture = Literal["llama", "qwen3"]
ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(bytes_done, bytes_total, tensor_name)`` while tensor data is written."""

_CHUNK_BYTES = 16 * 1024 * 1024
_ARCH_BY_HF_CLASS: dict[str, Architecture] = {"LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3"}
_FILE_TYPE: dict[OutType, int] = {
    "f32": int(gguf.LlamaFileType.ALL_F32),
    "f16": int(gguf.LlamaFileType.MOSTLY_F16),
    "bf16": int(gguf.LlamaFileType.MOSTLY_BF16),
}
_GGML_TYPE: dict[OutType, gguf.GGMLQuantizationType] = {
    "f32": gguf.GGMLQuantizationType.F32,
    "f16": gguf.GGMLQuantizationType.F16,
    "bf16": gguf.GGMLQuantizationType.BF16,
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
# Hugging Face name inside model.layers.N -> llama.cpp name inside blk.N.
_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.o_proj.bias": "attn_output.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.gate_proj.bias": "ffn_gate.bias",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.up_proj.bias": "ffn_up.bias",
    "mlp.down_proj.weight": "ffn_down.weight",
    "mlp.down_proj.bias": "ffn_down.bias",
}
_REQUIRED_LAYER_TENSORS: dict[Architecture, tuple[str, ...]] = {
    "llama": (
        "input_layernorm.weight",
        "self_attn.q_proj.weight",
        "self_attn.k_proj.weight",
        "self_attn.v_proj.weight",
        "self_attn.o_proj.weight",
        "post_attention_layernorm.weight",
        "mlp.gate_proj.weight",
        "mlp.up_proj.weight",
        "mlp.down_proj.weight",
    ),
    "qwen3": (
        "input_layernorm.weight",
        "self_attn.q_proj.weight",
        "self_attn.k_proj.weight",
        "self_attn.v_proj.weight",
        "self_attn.o_proj.weight",
        "self_attn.q_norm.weight",
        "self_attn.k_norm.weight",
        "post_attention_layernorm.weight",
        "mlp.gate_proj.weight",
        "mlp.up_proj.weight",
        "mlp.down_proj.weight",
    ),
}
_IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


class ConversionReport(BaseModel):
    """What ``convert_checkpoint`` wrote."""

    model_config = ConfigDict(frozen=True)

    source: str
    output: str
    architecture: Architecture
    tokenizer_pre: str
    out_type: OutType
    tensor_count: int
    parameter_count: int
    file_size: int
    largest_tensor_bytes: int
    vocab_size: int
    tokenizer_tokens: int
    context_length: int
    tied_embeddings: bool
    rope_type: str
    bos_id: int | None
    eos_id: int
    pad_id: int | None
    add_bos: bool
    tag_ids: dict[str, int]
    tag_token_type: TagTokenType
    is_demo: bool
    elapsed_s: float


@dataclass(frozen=True)
class _Hyper:
    arch: Architecture
    n_layer: int
    hidden: int
    ffn: int
    n_head: int
    n_head_kv: int
    head_dim: int
    context: int
    eps: float
    rope_theta: float
    rope_type: str
    rope: dict[str, Any]
    tie_embeddings: bool | None


@dataclass
class _PlannedTensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: gguf.GGMLQuantizationType
    source: TensorEntry | None = None
    permute_heads: int | None = None
    data: np.ndarray[Any, Any] | None = None  # generated tensors (rope_freqs)

    @property
    def nbytes(self) -> int:
        item = 4 if self.ggml_type == gguf.GGMLQuantizationType.F32 else 2
        return math.prod(self.shape) * item

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        if self.ggml_type == gguf.GGMLQuantizationType.F32:
            return np.dtype(np.float32)
        if self.ggml_type == gguf.GGMLQuantizationType.F16:
            return np.dtype(np.float16)
        return np.dtype(np.uint16)  # bf16 bits


def _int(config: dict[str, Any], key: str, folder: Path, default: int | None = None) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConversionError(f"{folder}/config.json lacks the integer {key!r}. Download config.json again.")
    if value <= 0:
        raise ConversionError(
            f"{folder}/config.json has {key}={value}; it must be a positive integer. Download config.json again."
        )
    return value


def _architecture(config: dict[str, Any], folder: Path) -> Architecture:
    classes = config.get("architectures") or []
    for hf_class in classes:
        if hf_class in _ARCH_BY_HF_CLASS:
            return _ARCH_BY_HF_CLASS[hf_class]
    model_type = config.get("model_type")
    if model_type in ("llama", "qwen3"):
        return "llama" if model_type == "llama" else "qwen3"
    raise ConversionError(
        f"{folder}/config.json describes a {classes or model_type!r} model (architectures / model_type); "
        "logos-tools converts LlamaForCausalLM (LOGOS-pretrain-1B/3B) and Qwen3ForCausalLM (LOGOS-8B) "
        "checkpoints only. Pass the folder of a LOGOS checkpoint (`logos model list` names them)."
    )


def _hyperparameters(config: dict[str, Any], folder: Path) -> _Hyper:
    arch = _architecture(config, folder)
    hidden = _int(config, "hidden_size", folder)
    n_head = _int(config, "num_attention_heads", folder)
    n_head_kv = _int(config, "num_key_value_heads", folder, n_head)
    head_dim = config.get("head_dim") or hidden // n_head
    if not isinstance(head_dim, int) or isinstance(head_dim, bool) or head_dim <= 0:
        raise ConversionError(
            f"{folder}/config.json has head_dim={head_dim!r}; it must be a positive integer. "
            "Download config.json again."
        )
    # transformers >= 5 writes rope_parameters; older configs have rope_theta and rope_scaling.
    rope = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    if isinstance(rope.get("full_attention"), dict):
        rope = dict(rope["full_attention"])
    rope_type = str(rope.get("rope_type", rope.get("type", "default")))
    theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))
    supported = ("default", "linear", "llama3") if arch == "llama" else ("default", "linear")
    if rope_type not in supported:
        raise ConversionError(
            f"{folder}/config.json asks for RoPE scaling {rope_type!r}, which the {arch} converter does not "
            f"write ({', '.join(supported)} are supported). LOGOS checkpoints use one of these; "
            "check that this is a LOGOS checkpoint."
        )
    tie = config.get("tie_word_embeddings")
    return _Hyper(
        arch=arch,
        n_layer=_int(config, "num_hidden_layers", folder),
        hidden=hidden,
        ffn=_int(config, "intermediate_size", folder),
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim=int(head_dim),
        context=_int(config, "max_position_embeddings", folder, 4096),
        eps=float(config.get("rms_norm_eps", 1e-6)),
        rope_theta=float(theta),
        rope_type=rope_type,
        rope=rope,
        tie_embeddings=tie if isinstance(tie, bool) else None,
    )


def _llama3_rope_factors(hyper: _Hyper, config: dict[str, Any]) -> np.ndarray[Any, Any]:
    """Per-frequency divisors of Llama-3.1 RoPE scaling (transformers' ``_compute_llama3_parameters``)."""
    rope = hyper.rope
    factor = float(rope.get("factor", 8.0))
    low = float(rope.get("low_freq_factor", 1.0))
    high = float(rope.get("high_freq_factor", 4.0))
    old_context = float(
        rope.get("original_max_position_embeddings", config.get("original_max_position_embeddings", 8192))
    )
    dim = hyper.head_dim
    freqs = 1.0 / (hyper.rope_theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    low_wavelen = old_context / low
    high_wavelen = old_context / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


def _plan(checkpoint: HFCheckpoint, hyper: _Hyper, out_type: OutType) -> tuple[list[_PlannedTensor], bool]:
    folder = checkpoint.folder
    names = set(checkpoint.tensors)
    has_head = "lm_head.weight" in names
    if hyper.tie_embeddings is False and not has_head:
        raise ConversionError(
            f"{folder}/config.json says the output head is separate (tie_word_embeddings false) but no "
            "lm_head.weight is stored. The checkpoint is incomplete: download it again."
        )
    tied = not has_head or hyper.tie_embeddings is True
    planned: list[_PlannedTensor] = []
    weight_type = _GGML_TYPE[out_type]

    def add(hf_name: str, gguf_name: str) -> None:
        entry = checkpoint.entry(hf_name)
        ggml_type = gguf.GGMLQuantizationType.F32 if len(entry.shape) < 2 else weight_type
        permute = None
        if hyper.arch == "llama" and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            permute = hyper.n_head
        elif hyper.arch == "llama" and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            permute = hyper.n_head_kv
        planned.append(_PlannedTensor(gguf_name, entry.shape, ggml_type, source=entry, permute_heads=permute))

    if hyper.arch == "llama" and hyper.rope_type == "llama3":
        factors = _llama3_rope_factors(hyper, checkpoint.config)
        planned.append(
            _PlannedTensor("rope_freqs.weight", factors.shape, gguf.GGMLQuantizationType.F32, data=factors)
        )
    add("model.embed_tokens.weight", "token_embd.weight")
    used = {"model.embed_tokens.weight", "model.norm.weight"}
    for layer in range(hyper.n_layer):
        prefix = f"model.layers.{layer}."
        for suffix in _REQUIRED_LAYER_TENSORS[hyper.arch]:
            if prefix + suffix not in names:
                raise ConversionError(
                    f"{folder} lacks {prefix + suffix}, which every {hyper.arch} layer needs. "
                    "The checkpoint is incomplete or of another architecture: download it again."
                )
        for suffix, gguf_suffix in _LAYER_TENSORS.items():
            if prefix + suffix in names:
                add(prefix + suffix, f"blk.{layer}.{gguf_suffix}")
                used.add(prefix + suffix)
    add("model.norm.weight", "output_norm.weight")
    if has_head:
        used.add("lm_head.weight")
        if not tied:
            add("lm_head.weight", "output.weight")
    unexpected = sorted(n for n in names - used if not n.endswith(_IGNORED_SUFFIXES))
    if unexpected:
        raise ConversionError(
            f"{folder} has tensors the {hyper.arch} converter does not know: {unexpected[:5]}"
            f"{f' and {len(unexpected) - 5} more' if len(unexpected) > 5 else ''}. Writing the model without them would change its "
            "outputs; this is not a plain LOGOS checkpoint. If config.json's num_hidden_layers is wrong, "
            "download config.json again."
        )
    _check_shapes(checkpoint, hyper)
    return planned, tied


def _expected_shapes(hyper: _Hyper, n_vocab: int) -> dict[str, tuple[int, ...]]:
    """Hugging Face (out, in) shapes that config.json implies, keyed by tensor name."""
    q_rows = hyper.n_head * hyper.head_dim
    kv_rows = hyper.n_head_kv * hyper.head_dim
    layer = {
        "input_layernorm.weight": (hyper.hidden,),
        "self_attn.q_proj.weight": (q_rows, hyper.hidden),
        "self_attn.q_proj.bias": (q_rows,),
        "self_attn.k_proj.weight": (kv_rows, hyper.hidden),
        "self_attn.k_proj.bias": (kv_rows,),
        "self_attn.v_proj.weight": (kv_rows, hyper.hidden),
        "self_attn.v_proj.bias": (kv_rows,),
        "self_attn.o_proj.weight": (hyper.hidden, q_rows),
        "self_attn.o_proj.bias": (hyper.hidden,),
        "self_attn.q_norm.weight": (hyper.head_dim,),
        "self_attn.k_norm.weight": (hyper.head_dim,),
        "post_attention_layernorm.weight": (hyper.hidden,),
        "mlp.gate_proj.weight": (hyper.ffn, hyper.hidden),
        "mlp.gate_proj.bias": (hyper.ffn,),
        "mlp.up_proj.weight": (hyper.ffn, hyper.hidden),
        "mlp.up_proj.bias": (hyper.ffn,),
        "mlp.down_proj.weight": (hyper.hidden, hyper.ffn),
        "mlp.down_proj.bias": (hyper.hidden,),
    }
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (n_vocab, hyper.hidden),
        "model.norm.weight": (hyper.hidden,),
        "lm_head.weight": (n_vocab, hyper.hidden),
    }
    for index in range(hyper.n_layer):
        shapes.update({f"model.layers.{index}.{suffix}": shape for suffix, shape in layer.items()})
    return shapes


def _check_shapes(checkpoint: HFCheckpoint, hyper: _Hyper) -> None:
    """Refuse weights whose shapes disagree with config.json: llama.cpp would refuse the GGUF later."""
    folder = checkpoint.folder
    if hyper.n_head <= 0 or hyper.n_head_kv <= 0 or hyper.n_head % hyper.n_head_kv:
        raise ConversionError(
            f"{folder}/config.json has num_attention_heads={hyper.n_head} and num_key_value_heads="
            f"{hyper.n_head_kv}; the first must be a positive multiple of the second. Download config.json again."
        )
    embedding = checkpoint.entry("model.embed_tokens.weight")
    n_vocab = embedding.shape[0] if embedding.shape else 0
    config_vocab = checkpoint.config.get("vocab_size")
    if isinstance(config_vocab, int) and not isinstance(config_vocab, bool) and config_vocab != n_vocab:
        raise ConversionError(
            f"{folder}/config.json says vocab_size={config_vocab} but model.embed_tokens.weight has {n_vocab} "
            "rows, so config.json and the weights belong to different models. Download the checkpoint again "
            "(config.json and every *.safetensors file from the same revision)."
        )
    expected = _expected_shapes(hyper, n_vocab)
    wrong = [
        (name, entry.shape, expected[name])
        for name, entry in checkpoint.tensors.items()
        if name in expected and entry.shape != expected[name]
    ]
    if wrong:
        name, got, want = wrong[0]
        hint = (
            f"hidden_size={hyper.hidden}, intermediate_size={hyper.ffn}, num_attention_heads={hyper.n_head}, "
            f"num_key_value_heads={hyper.n_head_kv}, head_dim={hyper.head_dim}"
        )
        raise ConversionError(
            f"{folder}: tensor {name!r} has shape {list(got)} but config.json ({hint}) implies {list(want)}"
            f"{f' ({len(wrong)} tensors disagree)' if len(wrong) > 1 else ''}. config.json and the weights "
            "belong to different models: download the checkpoint again (config.json and every *.safetensors "
            "file from the same revision)."
        )


def _permute(data: np.ndarray[Any, Any], n_head: int) -> np.ndarray[Any, Any]:
    """Hugging Face rotate-half row order -> GGML interleaved RoPE row order (as convert_hf_to_gguf)."""
    rows = data.shape[0]
    swapped = data.reshape(n_head, 2, rows // n_head // 2, *data.shape[1:]).swapaxes(1, 2)
    result: np.ndarray[Any, Any] = swapped.reshape(data.shape)
    return result


def _convert_block(
    block: np.ndarray[Any, Any], source_dtype: str, target: _PlannedTensor
) -> np.ndarray[Any, Any]:
    ggml_type = target.ggml_type
    if ggml_type == gguf.GGMLQuantizationType.BF16 and source_dtype == "BF16":
        return block
    if ggml_type == gguf.GGMLQuantizationType.F16 and source_dtype == "F16":
        return block
    values = to_float32(block, source_dtype)
    if ggml_type == gguf.GGMLQuantizationType.F32:
        return np.ascontiguousarray(values, dtype=np.float32)
    if ggml_type == gguf.GGMLQuantizationType.F16:
        converted = values.astype(np.float16)
        # max/min allocate nothing; the element-wise count runs only when something overflowed.
        big = values.size and (float(values.max()) > 65504.0 or float(values.min()) < -65504.0)
        overflow = int(np.count_nonzero(np.isinf(converted) & np.isfinite(values))) if big else 0
        if overflow:
            logger.warning(
                "%s: %d values exceed the f16 range and became inf; convert with out_type='bf16' instead",
                target.name,
                overflow,
            )
        return converted
    return float32_to_bf16_bits(values)


def _pad(handle: Any, written: int, alignment: int) -> None:
    padding = -written % alignment
    if padding:
        handle.write(b"\0" * padding)


def _write_metadata(
    writer: gguf.GGUFWriter,
    *,
    hyper: _Hyper,
    vocab: Vocabulary,
    out_type: OutType,
    name: str,
    profile_name: str,
    tag_token_type: TagTokenType,
    is_demo: bool,
    chat_template: str | None,
) -> None:
    writer.add_type("model")
    writer.add_name(name)
    writer.add_file_type(_FILE_TYPE[out_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_context_length(hyper.context)
    writer.add_embedding_length(hyper.hidden)
    writer.add_block_count(hyper.n_layer)
    writer.add_feed_forward_length(hyper.ffn)
    writer.add_head_count(hyper.n_head)
    writer.add_head_count_kv(hyper.n_head_kv)
    writer.add_key_length(hyper.head_dim)
    writer.add_value_length(hyper.head_dim)
    writer.add_rope_dimension_count(hyper.head_dim)
    writer.add_rope_freq_base(hyper.rope_theta)
    writer.add_layer_norm_rms_eps(hyper.eps)
    if hyper.rope_type == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(hyper.rope.get("factor", 1.0)))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.family)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    if vocab.bos_id is not None:
        writer.add_bos_token_id(vocab.bos_id)
    writer.add_eos_token_id(vocab.eos_id)
    if vocab.pad_id is not None:
        writer.add_pad_token_id(vocab.pad_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if chat_template:
        writer.add_chat_template(chat_template)
    writer.add_string("logos.profile", profile_name)
    writer.add_array("logos.tag_names", list(vocab.tag_ids))
    writer.add_key_value(
        "logos.tag_ids",
        list(vocab.tag_ids.values()),
        gguf.GGUFValueType.ARRAY,
        sub_type=gguf.GGUFValueType.INT32,
    )
    writer.add_string("logos.tag_token_type", tag_token_type)
    writer.add_bool("logos.demo", is_demo)
    writer.add_string("logos.converter", f"logos-tools {__version__}")


def _chat_template(checkpoint: HFCheckpoint) -> str | None:
    jinja = checkpoint.folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = checkpoint.read_json("tokenizer_config.json").get("chat_template")
    return template if isinstance(template, str) else None


def convert_checkpoint(
    hf_dir: Path,
    out_path: Path,
    *,
    out_type: OutType = "f16",
    tag_token_type: TagTokenType = "user_defined",
    is_demo: bool = False,
    progress: ProgressCallback | None = None,
    profile: str = "logos-v1",
    name: str | None = None,
) -> ConversionReport:
    """Convert a Hugging Face LOGOS checkpoint folder to one GGUF file, streaming tensor by tensor.

    Args:
        hf_dir: folder with config.json, tokenizer.json and *.safetensors (sharded or not).
        out_path: the .gguf file to write (replaced atomically; never left half-written).
        out_type: "f32", "f16" or "bf16" for the 2-D weights (norms and rope factors stay f32).
        tag_token_type: "user_defined" (default: tags stay visible in served text) or "control".
        is_demo: mark the file as the built-in demo model (``logos.demo``).
        progress: called as ``progress(bytes_done, bytes_total, tensor_name)`` while writing.
        profile: the grammar profile whose tags must all be single tokens.
        name: ``general.name`` (default: the folder name).

    Raises:
        ConversionError: unknown architecture or tokenizer family, missing or unexpected tensors,
            weights whose shapes disagree with config.json, a missing LOGOS tag, a damaged file,
            not enough disk space, or a write failure.
        InputError: ``out_path`` is a folder, or its folder cannot be created.
    """
    started = time.perf_counter()
    if out_type not in _GGML_TYPE:
        raise ConversionError(
            f"out_type {out_type!r} is not one of f32, f16, bf16. Quantize afterwards instead."
        )
    if tag_token_type not in ("user_defined", "control"):
        raise ConversionError(f"tag_token_type {tag_token_type!r} must be 'user_defined' or 'control'.")
    checkpoint = HFCheckpoint(Path(hf_dir))
    hyper = _hyperparameters(checkpoint.config, checkpoint.folder)
    plan, tied = _plan(checkpoint, hyper, out_type)
    n_rows = checkpoint.entry("model.embed_tokens.weight").shape[0]
    grammar = load_profile(profile)
    vocab = build_vocabulary(
        checkpoint, n_rows=n_rows, tags=grammar.all_tags(), tag_token_type=tag_token_type
    )
    total_bytes = sum(t.nbytes for t in plan)
    out_path = check_output_file(Path(out_path))
    free = free_disk_bytes(out_path.parent)
    if free < total_bytes + 64 * 1024 * 1024:
        raise ConversionError(
            f"Not enough disk space in {out_path.parent}: the GGUF needs about {total_bytes / 1e9:.2f} GB and "
            f"{free / 1e9:.2f} GB are free. Free some space or write elsewhere."
        )
    try:
        with temporary_output(out_path) as tmp_path:
            writer = gguf.GGUFWriter(tmp_path, hyper.arch)
            try:
                _write_metadata(
                    writer,
                    hyper=hyper,
                    vocab=vocab,
                    out_type=out_type,
                    name=name or checkpoint.folder.name,
                    profile_name=grammar.name,
                    tag_token_type=tag_token_type,
                    is_demo=is_demo,
                    chat_template=_chat_template(checkpoint),
                )
                for tensor in plan:
                    writer.add_tensor_info(
                        tensor.name,
                        tensor.shape,
                        tensor.numpy_dtype,
                        tensor.nbytes,
                        raw_dtype=tensor.ggml_type,
                    )
                writer.write_header_to_file()
                writer.write_kv_data_to_file()
                writer.write_ti_data_to_file()
                _write_tensor_data(writer, checkpoint, plan, total_bytes, progress)
            finally:
                # Closed on every path: the temporary file is removed by temporary_output on errors.
                writer.close()
    except OSError as exc:
        raise ConversionError(
            f"Writing {out_path} failed: {exc}. Check the folder and free disk space."
        ) from None
    size = out_path.stat().st_size
    elapsed = time.perf_counter() - started
    logger.info("converted %s -> %s (%.1f MB) in %.1f s", checkpoint.folder, out_path, size / 1e6, elapsed)
    return ConversionReport(
        source=str(checkpoint.folder),
        output=str(out_path),
        architecture=hyper.arch,
        tokenizer_pre=vocab.family,
        out_type=out_type,
        tensor_count=len(plan),
        parameter_count=sum(math.prod(t.shape) for t in plan if t.data is None),
        file_size=size,
        largest_tensor_bytes=max(t.source.nbytes for t in plan if t.source is not None),
        vocab_size=len(vocab.tokens),
        tokenizer_tokens=vocab.n_tokenizer_tokens,
        context_length=hyper.context,
        tied_embeddings=tied,
        rope_type=hyper.rope_type,
        bos_id=vocab.bos_id,
        eos_id=vocab.eos_id,
        pad_id=vocab.pad_id,
        add_bos=vocab.add_bos,
        tag_ids=vocab.tag_ids,
        tag_token_type=tag_token_type,
        is_demo=is_demo,
        elapsed_s=round(elapsed, 3),
    )


def _write_tensor_data(
    writer: gguf.GGUFWriter,
    checkpoint: HFCheckpoint,
    plan: list[_PlannedTensor],
    total_bytes: int,
    progress: ProgressCallback | None,
) -> None:
    # GGUFWriter has written header, metadata and tensor table; the data section follows, each tensor
    # aligned to writer.data_alignment, in the order of the table (as write_tensors_to_file does).
    assert writer.fout is not None
    assert len(writer.fout) == 1
    handle = writer.fout[0]
    alignment = writer.data_alignment
    _pad(handle, handle.tell(), alignment)
    done = 0
    for tensor in plan:
        written = 0
        if tensor.data is not None:
            handle.write(np.ascontiguousarray(tensor.data).tobytes())
            written = tensor.nbytes
        else:
            entry = tensor.source
            assert entry is not None
            if tensor.permute_heads is not None:
                blocks: Any = [_permute(checkpoint.read(entry.name), tensor.permute_heads)]
            else:
                blocks = checkpoint.iter_row_chunks(entry, _CHUNK_BYTES)
            for block in blocks:
                converted = _convert_block(block, entry.dtype, tensor)
                converted.tofile(handle)
                written += converted.nbytes
                if progress is not None:
                    progress(done + written, total_bytes, tensor.name)
                del converted, block
        if written != tensor.nbytes:
            raise ConversionError(
                f"Internal error: {tensor.name} wrote {written} bytes, expected {tensor.nbytes}. Report this bug."
            )
        _pad(handle, written, alignment)
        done += written
        if progress is not None:
            progress(done, total_bytes, tensor.name)
