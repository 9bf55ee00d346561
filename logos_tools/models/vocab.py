"""The tokenizer of a checkpoint, turned into GGUF vocabulary data llama.cpp tokenizes identically.

llama.cpp does not run the Hugging Face pre-tokenizer: it picks a hard-coded one by the name in
``tokenizer.ggml.pre``. A wrong or missing name still loads and tokenizes, just differently (832 of
1,003 probe strings mis-tokenized in our probe, with no error). So the family is detected from
``tokenizer.json`` itself (model type, split regex, byte-level step, merge rule) and anything that
is not exactly a known family is refused:

| family      | split regex digits | ignore_merges | examples                         |
|-------------|--------------------|---------------|----------------------------------|
| llama-bpe   | ``\\p{N}{1,3}``      | true          | Llama-3.x, LOGOS-pretrain-1B/3B  |
| qwen2       | ``\\p{N}``           | false         | Qwen2/2.5/3, LOGOS-8B            |

Qwen tokenizers also carry an NFC normalizer that llama.cpp does not apply; inputs already in NFC
(all LOGOS grammar text is ASCII) tokenize identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from logos_tools.errors import ConversionError
from logos_tools.models.checkpoint import HFCheckpoint

TokenizerFamily = Literal["llama-bpe", "qwen2"]
TagTokenType = Literal["user_defined", "control"]

LLAMA3_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_FAMILY_BY_REGEX: dict[str, TokenizerFamily] = {LLAMA3_SPLIT_REGEX: "llama-bpe", QWEN2_SPLIT_REGEX: "qwen2"}
_IGNORE_MERGES: dict[TokenizerFamily, bool] = {"llama-bpe": True, "qwen2": False}

# llama.cpp token types (llama_token_type / gguf.TokenType).
TOKEN_NORMAL = 1
TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4
TOKEN_UNUSED = 5


@dataclass(frozen=True)
class Vocabulary:
    """Everything the GGUF ``tokenizer.ggml.*`` keys hold, plus the LOGOS tag ids."""

    family: TokenizerFamily
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    bos_id: int | None
    eos_id: int
    pad_id: int | None
    add_bos: bool
    add_eos: bool
    tag_ids: dict[str, int]
    n_tokenizer_tokens: int


def _unsupported(source: str, what: str) -> ConversionError:
    return ConversionError(
        f"The tokenizer in {source} {what}. logos-tools converts only the byte-level BPE families "
        "'llama-bpe' (Llama-3 vocabularies: LOGOS-pretrain-1B/3B) and 'qwen2' (Qwen2/Qwen3: LOGOS-8B), "
        "because llama.cpp picks its pre-tokenizer by name and a wrong one mis-tokenizes silently. "
        "If this is a LOGOS checkpoint, its tokenizer.json was modified: download it again."
    )


def detect_tokenizer_family(tokenizer_json: dict[str, Any], *, source: str) -> TokenizerFamily:
    """The llama.cpp pre-tokenizer name for a ``tokenizer.json``: 'llama-bpe' or 'qwen2'.

    Raises:
        ConversionError: the tokenizer is not exactly one of the known families.
    """
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "BPE":
        raise _unsupported(source, f"is a {model.get('type')!r} model, not byte-level BPE")
    if model.get("byte_fallback"):
        raise _unsupported(source, "uses byte_fallback (a SentencePiece-style BPE)")
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not isinstance(steps, list) or len(steps) != 2:
        raise _unsupported(source, f"has the pre-tokenizer {pre.get('type')!r}, not Split + ByteLevel")
    split, byte_level = steps
    regex = (split.get("pattern") or {}).get("Regex") if split.get("type") == "Split" else None
    if regex is None or split.get("behavior") != "Isolated" or split.get("invert"):
        raise _unsupported(source, "does not start with an isolating regex Split")
    if (
        byte_level.get("type") != "ByteLevel"
        or byte_level.get("use_regex")
        or byte_level.get("add_prefix_space")
    ):
        raise _unsupported(
            source, "does not follow its Split with ByteLevel(use_regex=False, add_prefix_space=False)"
        )
    family = _FAMILY_BY_REGEX.get(regex)
    if family is None:
        raise _unsupported(source, f"splits text with an unknown regex {regex!r}")
    normalizer = tokenizer_json.get("normalizer")
    if normalizer is not None and not (family == "qwen2" and normalizer.get("type") == "NFC"):
        raise _unsupported(source, f"normalizes text ({normalizer.get('type')}) in a way llama.cpp does not")
    if family == "llama-bpe" and "ignore_merges" not in model:
        raise ConversionError(
            f"The tokenizer in {source} has the Llama-3 split regex but no 'ignore_merges' field (it was saved "
            "by tokenizers < 0.19). Llama-3 vocabularies tokenize with ignore_merges=true, as llama.cpp's "
            'llama-bpe does: add "ignore_merges": true to the "model" object of tokenizer.json, then convert '
            "again (and check with `logos model verify OUT.gguf --hf FOLDER`)."
        )
    if bool(model.get("ignore_merges", False)) != _IGNORE_MERGES[family]:
        raise _unsupported(
            source,
            f"has the {family} split regex but ignore_merges={model.get('ignore_merges')!r} "
            f"(llama.cpp's {family} uses {_IGNORE_MERGES[family]})",
        )
    return family


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def _first_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and isinstance(value[0], int):
        return int(value[0])
    return None


def _template_specials(post_processor: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(special token before $A, special token after $A) of the single-sequence template."""
    if not post_processor:
        return None, None
    if post_processor.get("type") == "Sequence":
        for step in post_processor.get("processors", []):
            found = _template_specials(step)
            if found != (None, None):
                return found
        return None, None
    if post_processor.get("type") != "TemplateProcessing":
        return None, None
    single = post_processor.get("single", [])
    before: str | None = None
    after: str | None = None
    seen_sequence = False
    for piece in single:
        if "Sequence" in piece:
            seen_sequence = True
        elif "SpecialToken" in piece:
            token = piece["SpecialToken"].get("id")
            if seen_sequence:
                after = after or token
            else:
                before = before or token
    return before, after


def _merges(model: dict[str, Any]) -> list[str]:
    merges = []
    for merge in model.get("merges", []):
        if isinstance(merge, str):
            merges.append(merge)
        elif isinstance(merge, list) and len(merge) == 2:
            merges.append(f"{merge[0]} {merge[1]}")
        else:
            raise ConversionError(f"tokenizer.json has a malformed merge {merge!r}. Download it again.")
    return merges


def build_vocabulary(
    checkpoint: HFCheckpoint,
    *,
    n_rows: int,
    tags: Sequence[str],
    tag_token_type: TagTokenType = "user_defined",
) -> Vocabulary:
    """Tokens, types, merges and special ids for the GGUF, padded to the embedding's ``n_rows``.

    Added tokens keep their Hugging Face kind (special -> CONTROL, other -> USER_DEFINED), except the
    LOGOS tags, which get ``tag_token_type``. Ids the tokenizer leaves unused (the embedding is often
    larger than the vocabulary) become ``[PADn]`` UNUSED tokens, as llama.cpp needs one token per row.

    Raises:
        ConversionError: no tokenizer.json, an unknown tokenizer family, more tokens than embedding
            rows, a missing LOGOS tag, or no usable EOS token.
    """
    source = str(checkpoint.folder / "tokenizer.json")
    tokenizer_json = checkpoint.read_json("tokenizer.json")
    if not tokenizer_json and (checkpoint.folder / "tokenizer.json").is_file():
        raise ConversionError(
            f"{source} is an empty JSON object, not a tokenizer. Download tokenizer.json again "
            "(every LOGOS checkpoint ships the fast-tokenizer file)."
        )
    if not tokenizer_json:
        raise ConversionError(
            f"{checkpoint.folder} has no tokenizer.json. logos-tools needs the fast-tokenizer file that "
            "every LOGOS checkpoint ships; download the full checkpoint folder."
        )
    family = detect_tokenizer_family(tokenizer_json, source=source)
    model = tokenizer_json["model"]
    by_id: dict[int, tuple[str, int]] = {}
    for text, token_id in model.get("vocab", {}).items():
        by_id[int(token_id)] = (text, TOKEN_NORMAL)
    for added in tokenizer_json.get("added_tokens", []):
        kind = TOKEN_CONTROL if added.get("special") else TOKEN_USER_DEFINED
        by_id[int(added["id"])] = (str(added["content"]), kind)
    n_tokens = max(by_id) + 1 if by_id else 0
    if n_tokens > n_rows:
        raise ConversionError(
            f"The tokenizer of {checkpoint.folder} has {n_tokens} tokens but the embedding has only {n_rows} "
            "rows, so the weights do not belong to this tokenizer. Download the checkpoint again."
        )
    tokens: list[str] = []
    types: list[int] = []
    for token_id in range(n_rows):
        text, kind = by_id.get(token_id, (f"[PAD{token_id}]", TOKEN_UNUSED))
        tokens.append(text)
        types.append(kind)
    ids = {text: token_id for token_id, text in reversed(list(enumerate(tokens)))}

    missing = [tag for tag in tags if tag not in ids]
    if missing:
        raise ConversionError(
            f"The tokenizer of {checkpoint.folder} has no token for the LOGOS tags {missing}, so the model "
            "cannot read or write the LOGOS grammar (tags must be single tokens). Convert a LOGOS checkpoint, "
            "or pass the grammar profile that matches this model."
        )
    tag_kind = TOKEN_USER_DEFINED if tag_token_type == "user_defined" else TOKEN_CONTROL
    tag_ids = {tag: ids[tag] for tag in tags}
    for token_id in tag_ids.values():
        types[token_id] = tag_kind

    tok_config = checkpoint.read_json("tokenizer_config.json")
    config = checkpoint.config

    def lookup(text: str | None) -> int | None:
        return ids.get(text) if text is not None else None

    template_bos, template_eos = _template_specials(tokenizer_json.get("post_processor"))
    if template_bos is not None:
        add_bos = True
    elif isinstance(tok_config.get("add_bos_token"), bool):
        add_bos = bool(tok_config["add_bos_token"])
    else:
        add_bos = family == "llama-bpe"
    add_eos = template_eos is not None or tok_config.get("add_eos_token") is True

    bos_id = lookup(template_bos)
    if bos_id is None:
        bos_id = lookup(_token_text(tok_config.get("bos_token")))
    if bos_id is None and family == "llama-bpe":
        bos_id = lookup("<|begin_of_text|>")
    if bos_id is None:
        bos_id = _first_int(config.get("bos_token_id"))
    eos_id = lookup(_token_text(tok_config.get("eos_token")))
    if eos_id is None:
        eos_id = _first_int(config.get("eos_token_id"))
    if eos_id is None:
        eos_id = lookup("<|end_of_text|>" if family == "llama-bpe" else "<|endoftext|>")
    if eos_id is None:
        raise ConversionError(
            f"Cannot tell the end-of-sequence token of {checkpoint.folder}: tokenizer_config.json has no "
            "eos_token and config.json no eos_token_id. Add eos_token to tokenizer_config.json."
        )
    if add_bos and bos_id is None:
        raise ConversionError(
            f"The tokenizer of {checkpoint.folder} adds a BOS token but none is named. "
            "Add bos_token to tokenizer_config.json."
        )
    # The LOGOS reference code pads Llama models with <|eot_id|> (hard-coded) and Qwen models with the
    # tokenizer's pad token, falling back to EOS.
    pad_id = lookup("<|eot_id|>") if family == "llama-bpe" else None
    if pad_id is None:
        pad_id = lookup(_token_text(tok_config.get("pad_token")))
    if pad_id is None and family == "qwen2":
        pad_id = eos_id
    return Vocabulary(
        family=family,
        tokens=tokens,
        token_types=types,
        merges=_merges(model),
        bos_id=bos_id,
        eos_id=eos_id,
        pad_id=pad_id,
        add_bos=add_bos,
        add_eos=add_eos,
        tag_ids=tag_ids,
        n_tokenizer_tokens=n_tokens,
    )
