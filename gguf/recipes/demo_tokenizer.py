"""A Llama-3-style byte-level BPE tokenizer for the demo model, trained on the demo corpus.

Same layout as Llama 3 (so the GGUF uses ``tokenizer.ggml.pre = "llama-bpe"``): the Llama-3 split
regex, byte-level mapping without its own regex, ``ignore_merges=True``, BOS added by a template.
The LOGOS tags are special added tokens. BPE is trained on the texts with the tags cut out;
otherwise it learns merges such as ``<Molecule`` that the tags make useless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from logos_tools.grammar.profile import Profile

BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"
PAD = "<|eot_id|>"  # the reference LOGOS code pads with <|eot_id|>
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
MODEL_MAX_LENGTH = 2048


def special_tokens(profile: Profile) -> list[str]:
    """BOS, EOS, pad, then every LOGOS tag of the profile, in id order."""
    return [BOS, EOS, PAD, *profile.all_tags()]


def _untagged_pieces(texts: Iterable[str], profile: Profile) -> Iterator[str]:
    pattern = re.compile("|".join(re.escape(tag) for tag in profile.all_tags()))
    for text in texts:
        for piece in pattern.split(text):
            if piece:
                yield piece


def train_tokenizer(texts: list[str], profile: Profile, vocab_size: int) -> Tokenizer:
    """Train the byte-level BPE on ``texts`` (tags removed), tags and BOS/EOS/pad as special tokens."""
    tokenizer = Tokenizer(models.BPE(ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    specials = [
        AddedToken(token, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False)
        for token in special_tokens(profile)
    ]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_untagged_pieces(texts, profile), trainer=trainer)
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            processors.TemplateProcessing(
                single=f"{BOS}:0 $A:0",
                pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1",
                special_tokens=[(BOS, tokenizer.token_to_id(BOS))],
            ),
        ]
    )
    return tokenizer


def token_id(tokenizer: Tokenizer, token: str) -> int:
    """The id of a token that must exist (BOS, EOS, pad, a tag).

    Raises:
        KeyError: the tokenizer lacks it.
    """
    found = tokenizer.token_to_id(token)
    if found is None:
        raise KeyError(f"{token!r} is not in the tokenizer")
    return found


def save_tokenizer(tokenizer: Tokenizer, profile: Profile, out_dir: Path) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    tags = list(profile.all_tags())
    added = {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token in special_tokens(profile)
    }
    config = {
        "added_tokens_decoder": added,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "additional_special_tokens": tags,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": MODEL_MAX_LENGTH,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    special_map = {
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "additional_special_tokens": tags,
    }
    for name, payload in (("tokenizer_config.json", config), ("special_tokens_map.json", special_map)):
        (out_dir / name).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
