from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from logos_tools.errors import ConversionError
from logos_tools.models.checkpoint import HFCheckpoint, float32_to_bf16_bits, to_float32


def test_bf16_rounding_matches_torch(tiny_llama_dir: Path) -> None:
    import torch

    values = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 100
    values[:4] = [np.inf, -np.inf, 0.0, -0.0]
    ours = float32_to_bf16_bits(values)
    theirs = torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(ours, theirs)
    assert np.array_equal(
        to_float32(ours, "BF16"), torch.from_numpy(values).to(torch.bfloat16).float().numpy()
    )
    assert np.isnan(to_float32(float32_to_bf16_bits(np.array([np.nan], np.float32)), "BF16")).all()


def test_row_chunks_reassemble_the_tensor(tiny_llama_dir: Path) -> None:
    from safetensors.numpy import load_file

    checkpoint = HFCheckpoint(tiny_llama_dir)
    entry = checkpoint.entry("model.embed_tokens.weight")
    chunks = list(checkpoint.iter_row_chunks(entry, chunk_bytes=entry.row_bytes * 7))
    assert len(chunks) == -(-entry.row_count // 7)
    expected = load_file(str(tiny_llama_dir / "model.safetensors"))["model.embed_tokens.weight"]
    assert np.array_equal(np.concatenate(chunks), expected)


def test_folder_without_config_or_weights_is_explained(tmp_path: Path, tiny_llama_dir: Path) -> None:
    with pytest.raises(ConversionError, match="not a folder"):
        HFCheckpoint(tmp_path / "absent")
    with pytest.raises(ConversionError, match=r"no config\.json"):
        HFCheckpoint(tmp_path)
    shutil.copy(tiny_llama_dir / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK")
    with pytest.raises(ConversionError, match=r"no \*\.safetensors.*safe_serialization"):
        HFCheckpoint(tmp_path)


def test_unsupported_weight_dtype_is_refused(tmp_path: Path, tiny_llama_dir: Path) -> None:
    from safetensors.numpy import save_file

    shutil.copy(tiny_llama_dir / "config.json", tmp_path / "config.json")
    save_file(
        {"model.embed_tokens.weight": np.zeros((4, 4), dtype=np.int8)}, str(tmp_path / "model.safetensors")
    )
    with pytest.raises(ConversionError, match="stored as I8"):
        HFCheckpoint(tmp_path)


def _write_safetensors_streaming(path: Path, shapes: dict[str, tuple[int, ...]], seed: int) -> None:
    """A bf16 safetensors file written tensor by tensor, so the test itself stays small in memory."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        nbytes = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        handle.write(len(raw).to_bytes(8, "little") + raw)
        for shape in shapes.values():
            rows_per_block = max(1, 4_000_000 // int(np.prod(shape[1:], dtype=np.int64)))
            for first in range(0, shape[0], rows_per_block):
                rows = min(rows_per_block, shape[0] - first)
                block = (rng.standard_normal((rows, *shape[1:]), dtype=np.float32) * 0.02).astype(np.float32)
                float32_to_bf16_bits(block).tofile(handle)


_MEASURE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from logos_tools.models.convert import convert_checkpoint
    from logos_tools.models.checkpoint import HFCheckpoint

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    HFCheckpoint(Path(sys.argv[1]))  # warm every import and code path used below
    # Reset the peak-RSS mark (VmHWM) to the current RSS: getrusage's ru_maxrss would still include
    # the RSS of the forked pytest parent.
    Path("/proc/self/clear_refs").write_text("5")
    before = status("VmRSS")
    report = convert_checkpoint(Path(sys.argv[1]), Path(sys.argv[2]), out_type="f16")
    after = status("VmHWM")
    print(json.dumps({"before": before, "after": after, "largest": report.largest_tensor_bytes,
                      "elapsed": report.elapsed_s, "size": report.file_size}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="peak RSS is measured through Linux /proc"
)
def test_conversion_streams_a_large_checkpoint_within_1_2x_its_largest_tensor(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    hf_dir = tmp_path / "big"
    hf_dir.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llama_dir / name, hf_dir / name)
    config = json.loads((tiny_llama_dir / "config.json").read_text(encoding="utf-8"))
    hidden, ffn, vocab, layers = 1024, 2816, 128_256, 2
    config.update(
        hidden_size=hidden,
        intermediate_size=ffn,
        vocab_size=vocab,
        num_hidden_layers=layers,
        dtype="bfloat16",
    )
    config["num_attention_heads"], config["num_key_value_heads"] = 16, 4
    config.pop("head_dim", None)
    (hf_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    kv = hidden // 16 * 4
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (vocab, hidden),
        "model.norm.weight": (hidden,),
    }
    for layer in range(layers):
        p = f"model.layers.{layer}."
        shapes |= {
            p + "input_layernorm.weight": (hidden,),
            p + "post_attention_layernorm.weight": (hidden,),
            p + "self_attn.q_proj.weight": (hidden, hidden),
            p + "self_attn.k_proj.weight": (kv, hidden),
            p + "self_attn.v_proj.weight": (kv, hidden),
            p + "self_attn.o_proj.weight": (hidden, hidden),
            p + "mlp.gate_proj.weight": (ffn, hidden),
            p + "mlp.up_proj.weight": (ffn, hidden),
            p + "mlp.down_proj.weight": (hidden, ffn),
        }
    shapes["lm_head.weight"] = (vocab, hidden)
    _write_safetensors_streaming(hf_dir / "model.safetensors", shapes, seed=0)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(hf_dir), str(tmp_path / "big.gguf")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads(result.stdout)
    assert numbers["largest"] == vocab * hidden * 2  # 263 MB
    assert numbers["after"] - numbers["before"] < 1.2 * numbers["largest"]
