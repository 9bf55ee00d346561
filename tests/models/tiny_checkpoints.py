"""Tiny random Hugging Face checkpoints with LOGOS-style tokenizers, built inside the tests.

Two families, matching the released LOGOS models:

* ``build_tiny_llama``: ``LlamaForCausalLM`` with a Llama-3-style byte-level BPE tokenizer
  (Llama-3 split regex + ByteLevel(use_regex=False), ``ignore_merges``, BOS added by the
  post-processor), specials ``<|begin_of_text|>``, ``<|end_of_text|>``, ``<|eot_id|>``.
* ``build_tiny_qwen3``: ``Qwen3ForCausalLM`` with a Qwen2-style tokenizer (single-digit split,
  NFC normalizer, no BOS), specials ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, and an
  embedding larger than the tokenizer (like the real Qwen3, whose 151,936 rows exceed its tokens).

Both carry the 16 LOGOS tags as ``AddedToken(special=True)``; BPE is trained on real SMILES (RDKit's
packaged NCI list), synthetic proteins and material strings with the tags stripped, so no merge
swallows part of a tag. Weights are random with a fixed seed and a large init range, so logits are
far from uniform and a wrong tensor mapping shows up as a large difference.

Runtime tests reuse these builders: ``from tests.models.tiny_checkpoints import build_tiny_llama``
(or the session fixtures of ``tests/models/conftest.py``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal

from logos_tools.grammar.profile import load_profile

LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>")
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
AMINO = "ACDEFGHIKLMNPQRSTVWY"


def logos_tags() -> tuple[str, ...]:
    """The 16 tags of the shipped profile."""
    return load_profile("logos-v1").all_tags()


def nci_smiles(limit: int) -> list[str]:
    """The first ``limit`` SMILES of RDKit's packaged NCI list (real molecules, no network)."""
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines[:limit] if line.strip()]


def training_text(seed: int = 0) -> list[str]:
    """Tag-free training lines: SMILES, protein sequences, material-like strings and some prose."""
    rng = random.Random(seed)
    smiles = nci_smiles(1500)
    proteins = ["".join(rng.choice(AMINO) for _ in range(rng.randint(20, 120))) for _ in range(300)]
    metals = ["[Zn]", "[Cu]", "[Co]", "[Zr]", "O=[Zn]", "[Mg+2]"]
    materials = [rng.choice(metals) + rng.choice(smiles) + rng.choice(smiles) for _ in range(200)]
    prose = [
        "The ligand binds the ATP pocket of the kinase.",
        "Retrosynthesis proposes reactants for a product molecule.",
        "Proteins fold; pockets bind ligands at 6.0 angstrom.",
        "numbers 12345 and 2026, tabs\tand  spaces\n\nnew lines",
    ] * 25
    return smiles + proteins + materials + prose


def _train(
    split: str,
    specials: tuple[str, ...],
    *,
    vocab_size: int,
    ignore_merges: bool,
    nfc: bool,
    trim_offsets: bool,
) -> object:
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=trim_offsets, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[AddedToken(s, special=True, normalized=False) for s in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_text(), trainer)
    tokenizer.add_special_tokens([AddedToken(tag, special=True, normalized=False) for tag in logos_tags()])
    return tokenizer


def build_llama3_tokenizer(vocab_size: int = 500) -> object:
    """A Llama-3-style byte-level BPE ``tokenizers.Tokenizer`` with BOS added by its post-processor."""
    from tokenizers import processors

    tokenizer = _train(
        LLAMA3_SPLIT, LLAMA3_SPECIALS, vocab_size=vocab_size, ignore_merges=True, nfc=False, trim_offsets=True
    )
    bos_id = tokenizer.token_to_id("<|begin_of_text|>")  # type: ignore[attr-defined]
    tokenizer.post_processor = processors.Sequence(  # type: ignore[attr-defined]
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                special_tokens=[("<|begin_of_text|>", bos_id)],
            ),
        ]
    )
    return tokenizer


def build_qwen_tokenizer(vocab_size: int = 500) -> object:
    """A Qwen2/Qwen3-style byte-level BPE ``tokenizers.Tokenizer`` (NFC, single digits, no BOS)."""
    from tokenizers import processors

    tokenizer = _train(
        QWEN2_SPLIT, QWEN_SPECIALS, vocab_size=vocab_size, ignore_merges=False, nfc=True, trim_offsets=False
    )
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)  # type: ignore[attr-defined]
    return tokenizer


def _save_tokenizer(tokenizer: object, dest: Path, *, bos: str | None, eos: str, pad: str) -> None:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad
    )
    fast.save_pretrained(str(dest))


def build_tiny_llama(
    dest: Path,
    *,
    tie_word_embeddings: bool = False,
    rope: Literal["default", "llama3"] = "llama3",
    dtype: Literal["float32", "bfloat16", "float16"] = "float32",
    hidden_size: int = 64,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Save a tiny random ``LlamaForCausalLM`` plus a Llama-3-style tokenizer into ``dest``.

    ``rope="llama3"`` writes Llama-3.1/3.2 frequency scaling (what LOGOS-pretrain-1B/3B inherit), so
    the converter's ``rope_freqs`` tensor is exercised. Hidden sizes must be multiples of 32 (Q8_0).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_llama3_tokenizer()
    vocab = tokenizer.get_vocab_size()  # type: ignore[attr-defined]
    rope_parameters: dict[str, object] = {"rope_type": "default", "rope_theta": 500000.0}
    if rope == "llama3":
        rope_parameters = {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        }
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        tie_word_embeddings=tie_word_embeddings,
        rope_parameters=rope_parameters,
        initializer_range=0.3,
        bos_token_id=tokenizer.token_to_id("<|begin_of_text|>"),  # type: ignore[attr-defined]
        eos_token_id=tokenizer.token_to_id("<|end_of_text|>"),  # type: ignore[attr-defined]
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dest))
    _save_tokenizer(tokenizer, dest, bos="<|begin_of_text|>", eos="<|end_of_text|>", pad="<|eot_id|>")
    return dest


def build_tiny_qwen3(
    dest: Path,
    *,
    tie_word_embeddings: bool = True,
    hidden_size: int = 64,
    num_layers: int = 2,
    extra_rows: int = 12,
    seed: int = 0,
) -> Path:
    """Save a tiny random ``Qwen3ForCausalLM`` plus a Qwen-style tokenizer into ``dest``.

    ``head_dim`` (32) differs from hidden/heads (16), as in small Qwen3 models, and the embedding
    has ``extra_rows`` more rows than the tokenizer has tokens.
    """
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_qwen_tokenizer()
    vocab = tokenizer.get_vocab_size()  # type: ignore[attr-defined]
    eos = tokenizer.token_to_id("<|endoftext|>")  # type: ignore[attr-defined]
    config = Qwen3Config(
        vocab_size=vocab + extra_rows,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tie_word_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        initializer_range=0.3,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(dest))
    _save_tokenizer(tokenizer, dest, bos=None, eos="<|endoftext|>", pad="<|endoftext|>")
    # The real Qwen tokenizer_config says add_bos_token false / bos_token null; keep that shape.
    config_path = dest / "tokenizer_config.json"
    data = json.loads(config_path.read_text(encoding="utf-8"))
    data["bos_token"] = None
    config_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return dest


def copy_with_string_value(src: Path, dst: Path, key: str, new_value: str) -> Path:
    """Copy a GGUF, replacing the string value of metadata ``key`` by one of the same byte length.

    Lets tests build a file with a wrong pre-tokenizer or architecture name without another writer.
    """
    data = bytearray(src.read_bytes())
    key_bytes = key.encode("utf-8")
    at = data.index(len(key_bytes).to_bytes(8, "little") + key_bytes) + 8 + len(key_bytes)
    value_type = int.from_bytes(data[at : at + 4], "little")
    assert value_type == 8, f"{key} is not a string (type {value_type})"
    length = int.from_bytes(data[at + 4 : at + 12], "little")
    new = new_value.encode("utf-8")
    assert len(new) == length, f"replacement must be {length} bytes, got {len(new)}"
    data[at + 12 : at + 12 + length] = new
    dst.write_bytes(bytes(data))
    return dst
