"""Check a GGUF against the LOGOS grammar and, given the Hugging Face folder, against transformers.

Checks (each reported with pass/fail and its numbers; checks that need what was not given are
reported as skipped, never as passed):

``loads``             llama.cpp loads the file (with the AMX-safe parameters of ``native``).
``tags_single_token`` every tag of the profile is one token when tokenized with special-token
                      parsing on, and (reported) with it off; CONTROL tags split when it is off, and
                      servers drop them from text, which the detail says.
``decodes``           a tag prompt decodes to finite logits and 8 greedy tokens are generated
                      (this is the step that segfaults for quantized files on AMX CPUs).
``tokenizer_parity``  llama.cpp token ids equal the ``tokenizers`` library's on the fixed probe set
                      (``probes.py``: 1,000+ SMILES, proteins, materials, tag runs, odd text), without
                      BOS, plus BOS handling on a prompt. Pass: zero mismatches.
``logits_parity``     logits on fixed LOGOS prompts vs transformers (float32, same token ids), with an
                      F32 KV cache on the llama.cpp side. Pass thresholds by file type:

                      | file type          | pass when                                              |
                      |--------------------|--------------------------------------------------------|
                      | F32                | max abs diff < 1e-4                                    |
                      | F16                | max abs diff < 2% of max abs logit, top-1 agree >= 0.8 |
                      | BF16               | max abs diff < 5% of max abs logit, top-1 agree >= 0.8 |
                      | Q8_0, Q6_K         | top-1 agree >= 0.8                                     |
                      | other quantized    | top-1 agree >= 0.5                                     |

                      For quantized files the bar is a floor that catches a broken file or a wrong
                      tokenizer, not a quality claim: the measured numbers are the result.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from logos_tools.errors import ConversionError, LogosError, MissingDependencyError
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.models.gguf_file import GGUFInfo, inspect_gguf
from logos_tools.models.native import load_model, open_llama
from logos_tools.models.probes import tokenizer_probe_strings

logger = logging.getLogger(__name__)

F32_MAX_ABS_DIFF = 1e-4
RELATIVE_DIFF = {"F16": 0.02, "BF16": 0.05}
TOP1_FLOOR = {"F16": 0.8, "BF16": 0.8, "Q8_0": 0.8, "Q6_K": 0.8}
TOP1_FLOOR_DEFAULT = 0.5
GENERATED_TOKENS = 8


class CheckResult(BaseModel):
    """One verification check: passed (True/False) or skipped (None), with a reason and numbers."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool | None
    detail: str
    numbers: dict[str, float | int] = {}


class VerifyReport(BaseModel):
    """The outcome of ``verify_gguf``: overall pass, and every check with its numbers."""

    model_config = ConfigDict(frozen=True)

    path: str
    quantization: str
    hf_dir: str | None
    passed: bool
    checks: list[CheckResult]

    def check(self, name: str) -> CheckResult:
        """The check called ``name``.

        Raises:
            KeyError: no such check in this report.
        """
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)


def _prompts(profile: Profile) -> list[str]:
    mol = profile.tags["molecule"]
    prot = profile.tags["protein"]
    pocket = profile.tags["pocket"]
    material = profile.tags["material"]
    metal = profile.tags["metal"]
    tasks = profile.task_tokens
    return [
        f"{mol[0]}CC(=O)Oc1ccccc1C(=O)O{mol[1]}{tasks['reverse_react']}{mol[0]}",
        f"{prot[0]}MKTAYIAKQRQISFVKSHFSRQ{prot[1]}{tasks['search']}{prot[0]}MKT{pocket[0]}A{pocket[1]}YIA",
        f"{material[0]}{metal[0]}[Zn]{metal[1]}{mol[0]}OC(=O)c1ccc(cc1)C(=O)O{mol[1]}{material[1]}",
        f"{mol[0]}CCO{mol[1]}{mol[0]}CC(=O)O{mol[1]}{tasks['react']}{mol[0]}CCOC(C)=O{mol[1]}",
    ]


def _check_tags(path: Path, profile: Profile, info: GGUFInfo) -> CheckResult:
    tags = profile.all_tags()
    with load_model(path, vocab_only=True) as model:
        special_single = {t: model.tokenize(t, special=True) for t in tags}
        plain_single = {t: model.tokenize(t, special=False) for t in tags}
        rendered = {t: model.detokenize(ids, special=True) for t, ids in special_single.items()}
    bad = [t for t, ids in special_single.items() if len(ids) != 1 or rendered[t] != t]
    split_plain = [t for t, ids in plain_single.items() if ids != special_single[t]]
    types = {tag.token_type for tag in info.tags if tag.token_id is not None}
    numbers: dict[str, float | int] = {
        "tags": len(tags),
        "single_with_special": len(tags) - len(bad),
        "single_without_special": len(tags) - len(split_plain),
    }
    if bad:
        return CheckResult(
            name="tags_single_token",
            passed=False,
            detail=f"tags that are not one token (or do not render back): {bad}",
            numbers=numbers,
        )
    detail = f"all {len(tags)} tags are single tokens; token types: {sorted(t for t in types if t)}"
    if split_plain:
        detail += (
            f"; {len(split_plain)} tags split when special-token parsing is off (CONTROL tokens): "
            "llama.cpp servers drop CONTROL tokens from answer text; convert with tag_token_type='user_defined'"
        )
    return CheckResult(name="tags_single_token", passed=True, detail=detail, numbers=numbers)


def _check_decodes(path: Path, profile: Profile) -> CheckResult:
    prompt = _prompts(profile)[0]
    llm = open_llama(path, n_ctx=256, n_threads=None, logits_all=False, seed=1)
    try:
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        llm.eval(tokens)
        finite = bool(np.isfinite(np.asarray(llm.scores[len(tokens) - 1])).all())
        llm.reset()  # type: ignore[no-untyped-call]
        generated = list(itertools.islice(llm.generate(tokens, temp=0.0), GENERATED_TOKENS))
    finally:
        llm.close()
    passed = finite and len(generated) == GENERATED_TOKENS
    return CheckResult(
        name="decodes",
        passed=passed,
        detail=f"prompt of {len(tokens)} tokens decoded; logits finite: {finite}; generated {len(generated)} tokens",
        numbers={"prompt_tokens": len(tokens), "generated_tokens": len(generated)},
    )


def _hf_tokenizer(hf_dir: Path) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError("tokenizers", "convert", "Tokenizer parity checks") from None
    tokenizer_file = hf_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ConversionError(
            f"{hf_dir} has no tokenizer.json. Pass the checkpoint folder the GGUF was converted from."
        )
    return Tokenizer.from_file(str(tokenizer_file))


def _check_tokenizer(path: Path, hf_dir: Path, profile: Profile) -> CheckResult:
    tokenizer = _hf_tokenizer(hf_dir)
    probes = tokenizer_probe_strings(profile)
    mismatches: list[str] = []
    with load_model(path, vocab_only=True) as model:
        for text in probes:
            expected = tokenizer.encode(text, add_special_tokens=False).ids
            if model.tokenize(text, add_bos=False, special=True) != expected:
                mismatches.append(text)
        prompt = _prompts(profile)[0]
        with_bos = tokenizer.encode(prompt, add_special_tokens=True).ids
        bos_ok = model.tokenize(prompt, add_bos=model.add_bos, special=True) == with_bos
    examples = ", ".join(repr(m[:60]) for m in mismatches[:5])
    passed = not mismatches and bos_ok
    detail = f"{len(probes) - len(mismatches)}/{len(probes)} probe strings tokenize identically"
    if mismatches:
        detail += f"; first mismatches: {examples} (a wrong tokenizer.ggml.pre mis-tokenizes silently)"
    if not bos_ok:
        detail += "; BOS handling differs from the Hugging Face tokenizer (tokenizer.ggml.add_bos_token)"
    return CheckResult(
        name="tokenizer_parity",
        passed=passed,
        detail=detail,
        numbers={"probes": len(probes), "mismatches": len(mismatches), "bos_matches": int(bos_ok)},
    )


def _import_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        missing = "torch" if "torch" in str(exc) else "transformers"
        error = MissingDependencyError(missing, "convert", "Logits parity against transformers")
        if missing == "torch":
            # torch is in no extra (an unpinned torch pulls GB of CUDA wheels): point at the CPU wheel.
            message = (
                "Logits parity against transformers needs the Python package 'torch', which is not installed. "
                "Install the CPU build with: pip install torch --index-url https://download.pytorch.org/whl/cpu "
                "(or run verify with --no-logits to skip the logits check)."
            )
            error.args = (message,)
            error.msg = message  # ImportError.__str__ prints .msg
        raise error from None
    return torch, transformers


def _logits_pass(quantization: str, max_diff: float, relative: float, top1: float) -> bool:
    if quantization == "F32":
        return max_diff < F32_MAX_ABS_DIFF
    if quantization in RELATIVE_DIFF and relative >= RELATIVE_DIFF[quantization]:
        return False
    return top1 >= TOP1_FLOOR.get(quantization, TOP1_FLOOR_DEFAULT)


def _check_logits(path: Path, hf_dir: Path, profile: Profile, quantization: str) -> CheckResult:
    torch, transformers = _import_torch()
    tokenizer = _hf_tokenizer(hf_dir)
    prompts = [tokenizer.encode(p, add_special_tokens=True).ids for p in _prompts(profile)]
    hf_logging = transformers.utils.logging
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its weight-loading bar would clutter stderr and CLI output
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ConversionError(
            f"transformers cannot load {hf_dir}: {exc}. Pass the checkpoint folder."
        ) from None
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    model.eval()
    hf_vocab = int(model.get_input_embeddings().weight.shape[0])
    n_ctx = max(len(ids) for ids in prompts) + 8
    llm = open_llama(path, n_ctx=n_ctx, f32_kv=True, logits_all=True)
    gguf_vocab = int(llm.n_vocab())
    highest_id = max(max(ids) for ids in prompts)
    if gguf_vocab != hf_vocab or highest_id >= gguf_vocab:
        # Another model: its logits cannot be compared position by position, and feeding token ids
        # past the GGUF's vocabulary into llama.cpp aborts the process.
        llm.close()
        return CheckResult(
            name="logits_parity",
            passed=False,
            detail=(
                f"the GGUF has {gguf_vocab} vocabulary rows but the checkpoint in {hf_dir} has {hf_vocab} "
                f"(highest prompt token id {highest_id}): the file was not converted from this checkpoint. "
                "Pass the folder it was converted from, or convert this folder again."
            ),
            numbers={"gguf_vocab": gguf_vocab, "hf_vocab": hf_vocab, "highest_token_id": highest_id},
        )
    max_diff = 0.0
    scale = 0.0
    agree = 0
    positions = 0
    try:
        for ids in prompts:
            with torch.no_grad():
                reference = model(torch.tensor([ids])).logits[0].float().numpy()
            llm.reset()  # type: ignore[no-untyped-call]
            llm.eval(ids)
            got = np.asarray(llm.scores[: len(ids)], dtype=np.float32)
            max_diff = max(max_diff, float(np.abs(got - reference).max()))
            scale = max(scale, float(np.abs(reference).max()))
            agree += int((got.argmax(-1) == reference.argmax(-1)).sum())
            positions += len(ids)
    finally:
        llm.close()
    relative = max_diff / scale if scale else 0.0
    top1 = agree / positions if positions else 0.0
    passed = _logits_pass(quantization, max_diff, relative, top1)
    return CheckResult(
        name="logits_parity",
        passed=passed,
        detail=(
            f"{quantization}: max abs logit diff {max_diff:.3g} ({relative:.2%} of max |logit| {scale:.3g}), "
            f"top-1 agreement {top1:.1%} over {positions} positions (F32 KV cache)"
        ),
        numbers={
            "max_abs_diff": max_diff,
            "relative_diff": relative,
            "max_abs_logit": scale,
            "top1_agreement": top1,
            "positions": positions,
        },
    )


def _failed_early(
    path: Path, quantization: str, hf_dir: Path | None, checks: list[CheckResult]
) -> VerifyReport:
    """The report of a file that cannot be checked further (it does not load)."""
    return VerifyReport(
        path=str(path),
        quantization=quantization,
        hf_dir=str(hf_dir) if hf_dir is not None else None,
        passed=False,
        checks=checks,
    )


def verify_gguf(
    path: Path,
    hf_dir: Path | None = None,
    *,
    profile: str = "logos-v1",
    check_logits: bool = True,
) -> VerifyReport:
    """Verify a GGUF: tags, decoding, and (with ``hf_dir``) tokenizer and logits parity.

    Args:
        path: the GGUF file.
        hf_dir: the Hugging Face folder it was converted from; None skips the parity checks.
        profile: grammar profile whose tags must be single tokens.
        check_logits: run the logits comparison (needs torch and transformers) when ``hf_dir`` is given.

    Raises:
        ModelNotFoundError: no file at ``path``.
        ModelFileError: the file is not a readable GGUF (a file that loads but fails a check is
            reported in the VerifyReport, not raised).
        MissingDependencyError: ``hf_dir`` is given and tokenizers/torch/transformers are missing.
        ConversionError: ``hf_dir`` is not a usable checkpoint folder.
    """
    path = Path(path).expanduser()
    grammar = load_profile(profile)
    info = inspect_gguf(path, tags=grammar.all_tags(), compute_sha256=False)
    checks: list[CheckResult] = []
    try:
        with load_model(path, vocab_only=True) as model:
            checks.append(
                CheckResult(
                    name="loads",
                    passed=True,
                    detail=f"{info.architecture}, {info.quantization}, vocabulary {model.n_vocab}",
                    # From the header: a vocabulary-only load reports a training context of 0.
                    numbers={"n_vocab": model.n_vocab, "n_ctx_train": info.context_length or 0},
                )
            )
    except LogosError as exc:
        checks.append(CheckResult(name="loads", passed=False, detail=str(exc)))
        return _failed_early(path, info.quantization, hf_dir, checks)
    checks.append(_check_tags(path, grammar, info))
    try:
        checks.append(_check_decodes(path, grammar))
    except LogosError as exc:
        # The vocabulary loaded but the weights did not (wrong shapes, unknown tensor types...).
        checks[0] = CheckResult(name="loads", passed=False, detail=f"the weights do not load: {exc}")
        return _failed_early(path, info.quantization, hf_dir, checks)
    if hf_dir is None:
        skip = "skipped: pass the Hugging Face checkpoint folder (--hf) to compare with it"
        checks.append(CheckResult(name="tokenizer_parity", passed=None, detail=skip))
        checks.append(CheckResult(name="logits_parity", passed=None, detail=skip))
    else:
        hf_dir = Path(hf_dir).expanduser()
        checks.append(_check_tokenizer(path, hf_dir, grammar))
        if check_logits:
            checks.append(_check_logits(path, hf_dir, grammar, info.quantization))
        else:
            checks.append(CheckResult(name="logits_parity", passed=None, detail="skipped on request"))
    passed = all(check.passed is not False for check in checks)
    for check in checks:
        logger.info("verify %s: %s %s", check.name, check.passed, check.detail)
    return VerifyReport(
        path=str(path),
        quantization=info.quantization,
        hf_dir=str(hf_dir) if hf_dir is not None else None,
        passed=passed,
        checks=checks,
    )
