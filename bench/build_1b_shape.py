"""Build the LOGOS-pretrain-1B-shape benchmark model: random weights, real shape, our converter.

    python bench/build_1b_shape.py            # about 3 minutes on 2 cores; skips steps already done
    python bench/build_1b_shape.py --force    # rebuild everything

Shape: the Llama-3.2-1B configuration that LOGOS-pretrain-1B inherits (hidden 2048, 16 layers, 32 heads,
8 KV heads, head_dim 64, MLP 8192, rope_theta 5e5 with Llama-3 frequency scaling, untied output head),
vocabulary 128,256 + the 16 LOGOS tags = 128,272 rows. Random weights do not change the cost of a
forward pass, so this model measures what a user of the real 1B model will see on a machine.

Tokenizer: the demo model's (``gguf/demo/hf``) padded with unused ``[PADn]`` tokens by the converter,
so the LOGOS tags are real single tokens and prompts tokenize as the demo model tokenizes them.

End-of-generation tokens (BOS, EOS, pad/eot) get all-zero rows in the output head: their logit is
exactly 0, far below the top-50 of ~N(0, 0.9^2) random logits over 128k tokens, so no path (ours,
llama-cpp-python's, transformers') ever samples them and every sample runs the full 64 new tokens.

Outputs in ``bench/work/1b-shape/`` (gitignored): ``hf/`` (bf16 safetensors, kept: the transformers
reference path loads it as float32), ``logos-1b-shape-f16.gguf`` (our ``convert_checkpoint``),
``logos-1b-shape-q4_k_m.gguf`` (our ``quantize_gguf``) and ``build.json`` (the build record).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work" / "1b-shape"
HF_DIR = WORK / "hf"
F16_PATH = WORK / "logos-1b-shape-f16.gguf"
Q4_PATH = WORK / "logos-1b-shape-q4_k_m.gguf"
RECORD = WORK / "build.json"
DEFAULT_TOKENIZER = REPO / "gguf" / "demo" / "hf"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SEED = 1234
LLAMA3_VOCAB = 128_256
THREADS = 2

logger = logging.getLogger("build_1b_shape")


def shape_config(n_tags: int, specials: dict[str, int]) -> dict[str, Any]:
    """The Llama-3.2-1B configuration with an untied head and the vocabulary grown by the LOGOS tags."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": LLAMA3_VOCAB + n_tags,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "hidden_act": "silu",
        "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-5,
        "initializer_range": 0.02,
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 32.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": specials["bos"],
        "eos_token_id": specials["eos"],
        "pad_token_id": specials["pad"],
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _special_ids(tokenizer_dir: Path) -> tuple[dict[str, int], list[int], int]:
    """BOS/EOS/pad ids, the ids of every non-tag special token, and the number of LOGOS tags."""
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    added = {entry["content"]: int(entry["id"]) for entry in data["added_tokens"]}
    tags = list(config.get("additional_special_tokens") or [])
    specials = {
        "bos": added[config["bos_token"]],
        "eos": added[config["eos_token"]],
        "pad": added[config["pad_token"]],
    }
    non_tag = sorted(token_id for text, token_id in added.items() if text not in tags)
    return specials, non_tag, len(tags)


def build_weights(tokenizer_dir: Path) -> dict[str, Any]:
    """Random bf16 weights of the 1B shape saved as a Hugging Face folder; returns facts for the record."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(THREADS)
    specials, end_ids, n_tags = _special_ids(tokenizer_dir)
    config = LlamaConfig(**shape_config(n_tags, specials))
    started = time.perf_counter()
    torch.manual_seed(SEED)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # never materialise the 6 GB float32 copy
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():
        model.lm_head.weight[end_ids] = 0.0  # never sampled: see the module docstring
    init_s = time.perf_counter() - started
    tmp = HF_DIR.with_name("hf.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, tmp / name)
    shutil.rmtree(HF_DIR, ignore_errors=True)
    tmp.rename(HF_DIR)
    params = sum(p.numel() for p in model.parameters())
    return {
        "parameters": params,
        "zeroed_head_rows": end_ids,
        "init_s": round(init_s, 1),
        "save_s": round(time.perf_counter() - started - init_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="folder with tokenizer.json"
    )
    parser.add_argument("--force", action="store_true", help="rebuild every step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    tokenizer_dir: Path = args.tokenizer
    if not (tokenizer_dir / "tokenizer.json").is_file():
        logger.error(
            "%s has no tokenizer.json: build the demo model first (gguf/recipes/build_demo.py) or pass "
            "--tokenizer DIR",
            tokenizer_dir,
        )
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = (
        json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.is_file() and not args.force else {}
    )
    tokenizer_sha = _sha256(tokenizer_dir / "tokenizer.json")
    _, end_ids, _ = _special_ids(tokenizer_dir)
    weights = record.get("weights") or {}
    if not (HF_DIR / "config.json").is_file() or weights.get("zeroed_head_rows") != end_ids:
        logger.info("building random bf16 weights of the 1B shape (seed %d)", SEED)
        record = {"weights": build_weights(tokenizer_dir)}
        F16_PATH.unlink(missing_ok=True)
    else:
        logger.info("weights: cached in %s", HF_DIR)
    if record.get("tokenizer_sha256") != tokenizer_sha:
        # Only the vocabulary text changed (same special ids): refresh it and convert again.
        for name in TOKENIZER_FILES:
            shutil.copyfile(tokenizer_dir / name, HF_DIR / name)
        record.update(tokenizer_source=str(tokenizer_dir), tokenizer_sha256=tokenizer_sha)
        record.pop("f16", None)
        record.pop("q4_k_m", None)
        F16_PATH.unlink(missing_ok=True)
    RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    from logos_tools.models.convert import convert_checkpoint
    from logos_tools.models.quantize import quantize_gguf

    if not F16_PATH.is_file():
        logger.info("converting to GGUF f16 with logos_tools.models.convert")
        report = convert_checkpoint(HF_DIR, F16_PATH, out_type="f16", name="logos-1b-shape")
        record["f16"] = {"bytes": report.file_size, "seconds": round(report.elapsed_s, 1)}
        Q4_PATH.unlink(missing_ok=True)
        RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    else:
        logger.info("f16: cached %s", F16_PATH)
    if not Q4_PATH.is_file():
        logger.info("quantizing to Q4_K_M with logos_tools.models.quantize (%d threads)", THREADS)
        quant = quantize_gguf(F16_PATH, Q4_PATH, "Q4_K_M", nthread=THREADS)
        record["q4_k_m"] = {
            "bytes": quant.output_size,
            "seconds": round(quant.elapsed_s, 1),
            "bits_per_weight": quant.bits_per_weight,
        }
        RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    else:
        logger.info("q4_k_m: cached %s", Q4_PATH)
    logger.info("done: %s", json.dumps({k: v for k, v in record.items() if k != "tokenizer_sha256"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
