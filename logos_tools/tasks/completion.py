"""Raw grammar completion, the escape hatch: a validated LOGOS grammar prompt in, samples decoded into
typed blocks out.

The prompt must be grammar, not prose: tags, task tokens and block contents only (its last block may be
left open for the model to complete). Each sample's prompt + completion is decoded by the generic
decoder; a sample that does not decode is kept as invalid with the position of the problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from logos_tools.errors import DecodeError, InputError, MissingDependencyError, ProfileError
from logos_tools.grammar.blocks import Parsed, parse_blocks
from logos_tools.grammar.decode import decode_text
from logos_tools.grammar.gbnf import GBNF_NAMES, check_gbnf, load_gbnf
from logos_tools.grammar.profile import EOS, Profile
from logos_tools.tasks.answers import unfinished_reason
from logos_tools.tasks.common import (
    InvalidSample,
    SamplingOptions,
    TaskContext,
    TaskResult,
    clip,
    draw,
    run_report,
    sampling_report,
    to_clause,
    whole_text_perplexity,
)

MAX_SAMPLES = 256
MAX_NEW_TOKENS = 8192
MAX_PROMPT_CHARS = 100_000
RANKING = "valid samples first, then the lowest whole-text perplexity (prompt + completion)"


class GrammarSample(BaseModel):
    """One sample: its completion, the decoded blocks of prompt + completion, and what was wrong."""

    rank: int
    index: int = Field(description="Sample number in drawing order.")
    completion: str = Field(description="The generated text (special tokens kept).")
    finish_reason: str = Field(
        description="stop (a stop tag or end of generation), length, grammar or deadline."
    )
    stop_tag: str | None = Field(description="The tag that ended the sample ('eos' for end of generation).")
    valid: bool = Field(description="Prompt + completion decoded with no problem.")
    problems: list[str] = Field(description="Every problem found, empty when valid.")
    error_position: int | None = Field(
        description="Character offset in prompt + completion of a structural error, if any."
    )
    decoded: dict[str, Any] | None = Field(
        description="The decoded text (blocks by kind with their values); None when it does not decode."
    )
    perplexity: float | None = Field(description="Whole-text perplexity of prompt + completion.")


class GrammarCompletionResult(TaskResult):
    """Samples continuing a LOGOS grammar prompt, decoded into typed blocks."""

    prompt: str
    stop: list[str]
    grammar: str | None = Field(
        description="The shipped grammar name, 'custom' for given GBNF text, or None."
    )
    samples: list[GrammarSample] = Field(description="Every sample, best first (see `ranking`).")
    ranking: str = RANKING


def check_grammar_prompt(prompt: str, profile: Profile) -> Parsed:
    """Check that ``prompt`` is LOGOS grammar a model can continue; its last block may be open.

    Raises:
        InputError: the prompt is empty or too long, holds text outside blocks (named with its position),
            a base-model control string, a structural error, or a complete block with invalid content.
    """
    if not isinstance(prompt, str) or not prompt:
        raise InputError("The prompt is empty. Pass LOGOS grammar text, e.g. '<MoleculeS>' or '<MaterialS>'.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(
            f"The prompt has {len(prompt)} characters, more than {MAX_PROMPT_CHARS}. Shorten it."
        )
    for control in (*profile.base_tokens.bos, *profile.base_tokens.end):
        at = prompt.find(control)
        if at >= 0:
            raise InputError(
                f"The prompt holds the base-model control string {control!r} at position {at}. The backend "
                "adds the begin-of-text token itself and an end string ends a text: remove it."
            )
    try:
        parsed = parse_blocks(prompt, profile)
    except DecodeError as exc:
        raise InputError(f"The prompt is not valid LOGOS grammar: {exc} Fix the tags there.") from None
    for stray in parsed.stray:
        shown = stray.text if len(stray.text) <= 40 else stray.text[:37] + "..."
        raise InputError(
            f"The prompt has text {shown!r} at position {stray.start} outside any block. A grammar prompt "
            "holds only LOGOS blocks and task tokens, written with no spaces between tags (e.g. "
            "'<MoleculeS>CCO<MoleculeE><ReverseReact>'); put the text inside a block or remove it."
        )
    decoded = decode_text(prompt, profile, geometry=False)
    for block in decoded.blocks:
        if block.complete and block.error is not None:
            raise InputError(
                f"The prompt's {block.kind} block at position {block.start} is invalid: {block.error} "
                "Fix its content; only the last block may be left open."
            )
    return parsed


def check_stop(stop: Sequence[str] | None, profile: Profile) -> tuple[str, ...]:
    """The stop list: LOGOS tags of the profile and/or ``"eos"`` (default: ``("eos",)``).

    Raises:
        InputError: a stop entry is not a tag of the profile, or the list is empty.
    """
    if stop is None:
        return (EOS,)
    if isinstance(stop, str) or not stop:
        raise InputError(f"stop must be a non-empty list of tags, got {stop!r}. Pass e.g. ['<MoleculeE>'].")
    known = profile.all_tags()
    for tag in stop:
        if tag != EOS and tag not in known:
            raise InputError(
                f"Stop tag {tag!r} is not a tag of profile {profile.name!r}. Use 'eos' (the model's end of "
                f"generation) or one of: {', '.join(known)}."
            )
    return tuple(dict.fromkeys(stop))


def resolve_grammar(grammar: str | None, profile: Profile) -> str | None:
    """GBNF text for ``grammar``: a shipped grammar by name (tags mapped to the profile), or given text.

    Raises:
        InputError: the value is neither a shipped name nor GBNF text, or llama.cpp rejects the text.
    """
    if grammar is None:
        return None
    for name in GBNF_NAMES:
        if grammar == name:
            return load_gbnf(name, profile)
    if "::=" not in grammar:
        raise InputError(
            f"grammar {grammar[:60]!r} is neither a shipped grammar ({', '.join(GBNF_NAMES)}) nor GBNF text. "
            "Pass a shipped name, or GBNF rules ('name ::= ...') with a 'root' rule."
        )
    try:
        check_gbnf(grammar)
    except ProfileError as exc:
        raise InputError(str(exc)) from None
    except MissingDependencyError:
        pass  # no local llama.cpp to parse it: the backend that samples with it reports errors
    return grammar


def complete_grammar(
    ctx: TaskContext,
    prompt: str,
    *,
    num_samples: int = 1,
    max_new_tokens: int = 256,
    stop: Sequence[str] | None = None,
    grammar: str | None = None,
    sampling: SamplingOptions | None = None,
) -> GrammarCompletionResult:
    """Continue a LOGOS grammar ``prompt``; decode each prompt + completion into typed blocks.

    ``stop`` lists tags that end a sample (default: the model's end of generation); ``grammar`` is a
    shipped grammar name (``molecule_block``, ``molecule_set``, ``protein_sequence``,
    ``material_block``) or GBNF text constraining every sample.

    Raises:
        InputError: the prompt is not grammar (see ``check_grammar_prompt``), a stop tag is unknown,
            the grammar does not parse, or ``num_samples`` / ``max_new_tokens`` is out of range.
        BackendError: the model failed.
    """
    profile = ctx.profile
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise InputError(f"num_samples={num_samples} is out of range: ask for 1 to {MAX_SAMPLES} samples.")
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InputError(f"max_new_tokens={max_new_tokens} is out of range: use 1 to {MAX_NEW_TOKENS}.")
    check_grammar_prompt(prompt, profile)
    stops = check_stop(stop, profile)
    gbnf = resolve_grammar(grammar, profile)
    params = (sampling or SamplingOptions()).resolve(profile)
    drawn = draw(
        ctx,
        prompt=prompt,
        n=num_samples,
        stop=stops,
        max_new_tokens=max_new_tokens,
        params=params,
        label="complete_grammar",
        grammar=gbnf,
    )
    samples: list[GrammarSample] = []
    invalid: list[InvalidSample] = []
    for index, sample in enumerate(drawn.samples):
        problems: list[str] = []
        position: int | None = None
        decoded: dict[str, Any] | None = None
        unfinished = unfinished_reason(sample) if sample.finish_reason != "length" else None
        if unfinished is not None:
            problems.append(unfinished)
        try:
            result = decode_text(prompt + sample.text, profile, geometry=False)
            decoded = result.to_dict()
            problems.extend(result.problems)
        except DecodeError as exc:
            position = exc.position
            problems.append(str(exc))
        ppl = whole_text_perplexity(drawn.prompt_logprobs, sample)
        samples.append(
            GrammarSample(
                rank=0,
                index=index,
                completion=sample.text,
                finish_reason=sample.finish_reason,
                stop_tag=sample.stop_tag,
                valid=not problems,
                problems=problems,
                error_position=position,
                decoded=decoded,
                perplexity=round(ppl, 4) if ppl is not None else None,
            )
        )
        if problems:
            invalid.append(
                InvalidSample(
                    index=index,
                    text=clip(sample.text),
                    reason="; ".join(to_clause(problem) for problem in problems),
                )
            )
    samples.sort(key=lambda s: (not s.valid, s.perplexity if s.perplexity is not None else math.inf, s.index))
    for rank, item in enumerate(samples, start=1):
        item.rank = rank
    valid = sum(1 for s in samples if s.valid)
    return GrammarCompletionResult(
        prompt=prompt,
        stop=list(stops),
        grammar=None if grammar is None else (grammar if grammar in GBNF_NAMES else "custom"),
        samples=samples,
        invalid_samples=invalid,
        model=ctx.model_report(),
        sampling=sampling_report(params, max_new_tokens, constrained=gbnf is not None),
        run=run_report(ctx, drawn, requested=num_samples, valid=valid),
    )
