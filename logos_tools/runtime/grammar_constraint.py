"""GBNF-constrained sampling with llama.cpp's grammar engine, one grammar state per sequence.

Checking the whole vocabulary against a grammar every step is costly on large vocabularies, so each
sequence first samples freely and only when the drawn token breaks the grammar is the full mask
computed and the token redrawn (llama.cpp's own common sampler does the same).
"""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp
import numpy as np

from logos_tools.errors import InputError
from logos_tools.runtime.base import SamplingParams
from logos_tools.runtime.sampler import FloatArray, IntArray, sample_rows

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class GrammarConstraint:
    """A compiled GBNF grammar for one model vocabulary."""

    def __init__(self, vocab: Any, base: Any, n_vocab: int) -> None:
        self._vocab = vocab
        self._base = base
        self._n_vocab = n_vocab
        self._single = np.zeros(1, dtype=_TOKEN_DATA)
        self._full = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._full["id"] = np.arange(n_vocab, dtype=np.int32)

    @classmethod
    def compile(cls, vocab: Any, gbnf: str) -> GrammarConstraint:
        """Parse ``gbnf`` (root rule ``root``) for the vocabulary.

        Raises:
            InputError: llama.cpp cannot parse the grammar.
        """
        base = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
        if not base:
            raise InputError(
                "The GBNF grammar does not parse (llama.cpp rejected it; its log has the line). "
                "Check the rule syntax and that a rule named 'root' exists."
            )
        return cls(vocab, base, int(llama_cpp.llama_vocab_n_tokens(vocab)))

    def new_state(self) -> Any:
        """A fresh grammar state for one sequence."""
        return llama_cpp.llama_sampler_clone(self._base)

    def accept(self, state: Any, token: int) -> None:
        """Advance a sequence's grammar state by one token."""
        llama_cpp.llama_sampler_accept(state, token)

    def free_state(self, state: Any) -> None:
        """Release a sequence's grammar state."""
        llama_cpp.llama_sampler_free(state)

    def close(self) -> None:
        """Release the compiled grammar."""
        if self._base:
            llama_cpp.llama_sampler_free(self._base)
            self._base = None

    def _apply(self, state: Any, data: np.ndarray) -> None:
        array = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)),
            size=data.shape[0],
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(state, ctypes.byref(array))

    def allows(self, state: Any, token: int) -> bool:
        """Whether the grammar accepts ``token`` next."""
        self._single["id"][0] = token
        self._single["logit"][0] = 0.0
        self._apply(state, self._single)
        return bool(np.isfinite(self._single["logit"][0]))

    def enforce(
        self,
        work: FloatArray,
        picked: IntArray,
        states: list[Any],
        params: SamplingParams,
        rng: np.random.Generator,
    ) -> IntArray:
        """Keep tokens the grammar allows; redraw the others from the grammar-masked logits.

        A line whose grammar allows nothing gets -1.
        """
        for line, state in enumerate(states):
            token = int(picked[line])
            if token >= 0 and self.allows(state, token):
                continue
            self._full["logit"] = work[line]
            self._apply(state, self._full)
            masked = work[line : line + 1].copy()
            masked[0, ~np.isfinite(self._full["logit"])] = -np.inf
            picked[line] = sample_rows(masked, params, rng)[0]
        return picked
