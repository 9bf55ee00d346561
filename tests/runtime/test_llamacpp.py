"""The llama.cpp backend on the demo GGUF: batched sampling, stopping, seeds, grammar, scoring, threads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from logos_tools.errors import GenerationCancelled, InputError
from logos_tools.grammar.blocks import parse_blocks
from logos_tools.grammar.profile import Profile
from logos_tools.runtime.base import CancelToken, GenerationRequest, Progress, SamplingParams
from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions
from tests.demo_model import DEMO_HF, DEMO_Q8

MOLECULE = GenerationRequest(
    prompt="<MoleculeS>",
    n=32,
    stop=("<MoleculeE>", "eos"),
    max_new_tokens=96,
    sampling=SamplingParams(seed=7),
)


def test_thirty_two_batched_samples_are_well_formed_blocks_that_stop_at_the_end_tag(
    demo_backend: LlamaCppBackend, profile: Profile
) -> None:
    result = demo_backend.generate(MOLECULE)
    assert len(result.samples) == 32
    stopped = [s for s in result.samples if s.finish_reason == "stop"]
    assert len(stopped) >= 28
    for sample in stopped:
        assert sample.stop_tag == "<MoleculeE>"
        assert sample.text.endswith("<MoleculeE>")
        assert sample.token_ids[-1] == demo_backend.tokenize("<MoleculeE>", add_bos=False)[0]
        (block,) = parse_blocks(MOLECULE.prompt + sample.text, profile).blocks
        assert block.kind == "molecule"
        assert block.complete
    assert len({s.text for s in stopped}) > 16


def test_the_same_seed_repeats_a_run_and_another_seed_does_not(demo_backend: LlamaCppBackend) -> None:
    first = [s.text for s in demo_backend.generate(MOLECULE).samples]
    again = [s.text for s in demo_backend.generate(MOLECULE).samples]
    other = GenerationRequest(
        prompt=MOLECULE.prompt, n=32, stop=MOLECULE.stop, max_new_tokens=96, sampling=SamplingParams(seed=8)
    )
    assert first == again
    assert first != [s.text for s in demo_backend.generate(other).samples]


def test_a_long_prompt_is_evaluated_once_for_all_samples(demo_backend: LlamaCppBackend) -> None:
    prompt = "<MoleculeS>" + "CC(=O)Nc1ccc(O)cc1" * 6 + "<MoleculeE><MoleculeS>"
    request = GenerationRequest(prompt=prompt, n=16, stop=("<MoleculeE>",), max_new_tokens=48)
    before = demo_backend.prompt_tokens_evaluated
    result = demo_backend.generate(request)
    assert demo_backend.prompt_tokens_evaluated - before == len(result.prompt_token_ids)
    assert not result.timings.prompt_cached
    again = demo_backend.generate(request)
    assert again.timings.prompt_cached
    assert demo_backend.prompt_tokens_evaluated - before == len(result.prompt_token_ids)


def test_more_samples_than_sequences_run_in_waves(demo_path: Path) -> None:
    small = LlamaCppBackend(
        demo_path, name="demo", options=LlamaCppOptions(n_ctx=4096, n_seq_max=5, n_threads=2)
    )
    try:
        result = small.generate(
            GenerationRequest(
                prompt="<MoleculeS>",
                n=11,
                stop=("<MoleculeE>",),
                max_new_tokens=64,
                sampling=SamplingParams(seed=1),
            )
        )
        assert len(result.samples) == 11
        assert sum(s.finish_reason == "stop" for s in result.samples) >= 8
    finally:
        small.close()


def test_grammar_constrains_every_sample(demo_backend: LlamaCppBackend) -> None:
    grammar = "root ::= [CNO()=]+ <MoleculeE>"
    request = GenerationRequest(
        prompt="<MoleculeS>",
        n=8,
        stop=("<MoleculeE>",),
        max_new_tokens=64,
        grammar=grammar,
        sampling=SamplingParams(seed=3),
    )
    for sample in demo_backend.generate(request).samples:
        body = sample.text.removesuffix("<MoleculeE>")
        assert set(body) <= set("CNO()=")


def test_progress_is_reported_and_cancel_stops_between_steps(demo_backend: LlamaCppBackend) -> None:
    cancel = CancelToken()
    steps: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        steps.append(progress)
        if progress.step == 3:
            cancel.cancel()

    with pytest.raises(GenerationCancelled):
        demo_backend.generate(MOLECULE, progress=on_progress, cancel=cancel)
    assert [p.step for p in steps] == [1, 2, 3]
    assert demo_backend.generate(MOLECULE).samples  # the backend still works afterwards


def test_a_call_waiting_for_the_model_stops_when_cancelled_without_waiting_its_turn(
    demo_backend: LlamaCppBackend,
) -> None:
    cancel = CancelToken()
    outcome: list[BaseException] = []

    def queued_call() -> None:
        try:
            demo_backend.generate(MOLECULE, cancel=cancel)
        except BaseException as exc:
            outcome.append(exc)

    with demo_backend._lock:  # another call holds the model for as long as this block lasts
        waiter = threading.Thread(target=queued_call)
        waiter.start()
        cancel.cancel()
        waiter.join(timeout=30)
        assert not waiter.is_alive()  # it gave up while the model was still busy
    assert len(outcome) == 1
    assert isinstance(outcome[0], GenerationCancelled)
    assert demo_backend.generate(MOLECULE).samples  # the lock was released and the backend works


def test_a_passed_deadline_ends_samples_with_reason_deadline(demo_backend: LlamaCppBackend) -> None:
    request = GenerationRequest(
        prompt="<MoleculeS>", n=4, stop=("<MoleculeE>",), deadline=time.monotonic() - 1
    )
    assert {s.finish_reason for s in demo_backend.generate(request).samples} == {"deadline"}


def test_unknown_stop_tag_and_oversized_request_are_input_errors(demo_backend: LlamaCppBackend) -> None:
    with pytest.raises(InputError, match="not one"):
        demo_backend.generate(GenerationRequest(prompt="<MoleculeS>", stop=("<Nope>",)))
    with pytest.raises(InputError, match="exceeds the model's context"):
        demo_backend.generate(GenerationRequest(prompt="<MoleculeS>" * 9000, max_new_tokens=64))


def test_info_reports_the_room_of_one_sequence_the_training_context_when_smaller(
    demo_backend: LlamaCppBackend,
) -> None:
    demo_backend.load()
    assert demo_backend.info.n_ctx == 2048  # the demo's trained context, below the 8192-token context


def test_two_threads_calling_at_once_both_get_their_own_answers(demo_backend: LlamaCppBackend) -> None:
    requests = [
        GenerationRequest(
            prompt="<MoleculeS>",
            n=8,
            stop=("<MoleculeE>",),
            max_new_tokens=64,
            sampling=SamplingParams(seed=s),
        )
        for s in (11, 12)
    ]
    expected = [[s.text for s in demo_backend.generate(r).samples] for r in requests]
    got: dict[int, list[str]] = {}

    def call(index: int) -> None:
        got[index] = [s.text for s in demo_backend.generate(requests[index]).samples]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [got[0], got[1]] == expected


def test_whole_text_perplexity_matches_transformers_on_the_demo_weights(demo_path: Path) -> None:
    text_prompt, answer = (
        "<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE><ReverseReact>",
        "<MoleculeS>CC(=O)O<MoleculeE>",
    )
    backend = LlamaCppBackend(
        demo_path, name="demo", options=LlamaCppOptions(n_ctx=2048, f32_kv=True, n_threads=2)
    )
    try:
        (ours,) = backend.score([(text_prompt, answer)])
    finally:
        backend.close()
    tokenizer = AutoTokenizer.from_pretrained(DEMO_HF)
    model = LlamaForCausalLM.from_pretrained(DEMO_HF, dtype=torch.float32)
    ids = tokenizer(text_prompt + answer, return_tensors="pt").input_ids
    assert ids[0].tolist() == ours.token_ids
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
        logprobs = torch.log_softmax(model(ids).logits[0, :-1].double(), dim=-1)
    reference = logprobs[torch.arange(ids.shape[1] - 1), ids[0, 1:]].numpy()
    assert np.max(np.abs(np.array(ours.token_logprobs) - reference)) < 0.05
    assert abs(ours.perplexity - float(np.exp(loss))) / float(np.exp(loss)) < 0.01
    assert ours.answer_start == len(tokenizer(text_prompt).input_ids)


def test_the_quantized_demo_model_generates_on_this_cpu() -> None:
    code = (
        "from logos_tools.runtime.llamacpp import LlamaCppBackend, LlamaCppOptions\n"
        "from logos_tools.runtime.base import GenerationRequest, SamplingParams\n"
        f"b = LlamaCppBackend({str(DEMO_Q8)!r}, name='demo-q8_0', options=LlamaCppOptions(n_ctx=2048))\n"
        "r = b.generate(GenerationRequest(prompt='<MoleculeS>', n=4, stop=('<MoleculeE>',), max_new_tokens=64, sampling=SamplingParams(seed=1)))\n"
        "print(sum(len(s.token_ids) for s in r.samples))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"exit {done.returncode} (139 = segfault): {done.stderr[-2000:]}"
    assert int(done.stdout.strip()) > 4
