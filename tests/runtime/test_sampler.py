"""The sampler reproduces transformers' generate() processing: penalty, temperature, top-k, top-p."""

import numpy as np
import pytest
import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from logos_tools.runtime.base import SamplingParams
from logos_tools.runtime.sampler import PenaltyTracker, candidate_distribution, log_softmax_at, sample_rows


def _reference_probs(logits: np.ndarray, seen: list[list[int]], params: SamplingParams) -> np.ndarray:
    steps = [
        RepetitionPenaltyLogitsProcessor(params.repetition_penalty),
        TemperatureLogitsWarper(params.temperature),
    ]
    if params.top_k:
        steps.append(TopKLogitsWarper(params.top_k))
    processors = LogitsProcessorList([*steps, TopPLogitsWarper(params.top_p)])
    width = max(len(s) for s in seen)
    ids = torch.LongTensor([s + [s[0]] * (width - len(s)) for s in seen])
    scores = processors(ids, torch.tensor(logits, dtype=torch.float32))
    return torch.softmax(scores.double(), dim=-1).numpy()


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=1.2, top_p=0.85, top_k=50, repetition_penalty=1.05),
        SamplingParams(temperature=0.7, top_p=0.95, top_k=10, repetition_penalty=1.3),
        SamplingParams(temperature=1.0, top_p=1.0, top_k=5, repetition_penalty=1.0),
        SamplingParams(temperature=0.9, top_p=0.8, top_k=0, repetition_penalty=1.1),
    ],
)
def test_candidate_probabilities_equal_transformers_processors(params: SamplingParams) -> None:
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((4, 300)) * 3).astype(np.float32)
    prompt = [5, 17, 17, 250]
    generated = [[1, 2], [], [299], [5, 6, 7]]
    tracker = PenaltyTracker(prompt, rows=4)
    for row, tokens in enumerate(generated):
        for token in tokens:
            tracker.add(row, token)
    work = logits.copy()
    tracker.apply(work, np.arange(4), params.repetition_penalty)
    candidates, probs = candidate_distribution(work, params)
    ours = np.zeros_like(logits, dtype=np.float64)
    np.put_along_axis(ours, candidates, probs, axis=1)
    expected = _reference_probs(logits, [prompt + g for g in generated], params)
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_penalty_applies_only_to_rows_that_saw_the_token() -> None:
    tracker = PenaltyTracker([], rows=2)
    tracker.add(1, 3)
    logits = np.array([[1.0, -1.0, 2.0, 2.0], [1.0, -1.0, 2.0, 2.0]], dtype=np.float32)
    tracker.apply(logits, np.array([0, 1]), 2.0)
    assert logits[0].tolist() == [1.0, -1.0, 2.0, 2.0]
    assert logits[1].tolist() == [1.0, -1.0, 2.0, 1.0]


def test_draws_follow_the_candidate_distribution() -> None:
    params = SamplingParams(temperature=1.0, top_p=1.0, top_k=3, repetition_penalty=1.0)
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], dtype=np.float32))
    rng = np.random.default_rng(1)
    draws = np.concatenate([sample_rows(np.repeat(logits, 1000, axis=0), params, rng) for _ in range(20)])
    frequencies = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(frequencies, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0], atol=0.01)


def test_greedy_picks_the_argmax_and_dead_rows_get_minus_one() -> None:
    params = SamplingParams(temperature=0.0)
    logits = np.array([[0.1, 3.0, 0.2], [-np.inf, -np.inf, -np.inf]], dtype=np.float32)
    assert sample_rows(logits, params, np.random.default_rng(0)).tolist() == [1, -1]
    sampled = SamplingParams(temperature=1.0, top_k=0, top_p=0.9)
    assert sample_rows(logits, sampled, np.random.default_rng(0))[1] == -1


def test_without_top_k_the_nucleus_covers_top_p_of_the_mass() -> None:
    params = SamplingParams(temperature=1.0, top_p=0.9, top_k=0, repetition_penalty=1.0)
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 5000)).astype(np.float32)
    candidates, probs = candidate_distribution(logits, params)
    full = np.exp(logits - logits.max(axis=1, keepdims=True))
    full /= full.sum(axis=1, keepdims=True)
    kept_mass = np.array([full[r, candidates[r][probs[r] > 0]].sum() for r in range(2)])
    assert np.all(kept_mass >= 0.9)
    smallest_kept = np.array([full[r, candidates[r][probs[r] > 0]].min() for r in range(2)])
    assert np.all(kept_mass - smallest_kept < 0.9)  # the smallest such set: without its last token, < top_p


def test_log_softmax_at_matches_torch() -> None:
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((3, 50)).astype(np.float32)
    tokens = np.array([0, 10, 49])
    expected = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), dim=-1)[torch.arange(3), tokens]
    np.testing.assert_allclose(log_softmax_at(logits, tokens), expected.numpy(), atol=1e-6)
