import ctypes
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest

from logos_tools.errors import EncodeError, ProfileError
from logos_tools.grammar.gbnf import (
    GBNF_NAMES,
    GbnfName,
    check_gbnf,
    gbnf_literal,
    load_gbnf,
    pocket_answer_gbnf,
)
from logos_tools.grammar.profile import Profile
from logos_tools.grammar.protein import AMINO_ACIDS

TAGS = ["<MoleculeS>", "<MoleculeE>", "<ProteinS>", "<ProteinE>", "<PocketS>", "<PocketE>"]
MERGED = ["MK", "TL"]  # two multi-letter tokens, as a BPE vocabulary has


def _byte_tokens() -> list[str]:
    """GPT-2 byte-to-unicode table: the 256 byte tokens of a byte-level BPE vocabulary."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping, extra = {b: chr(b) for b in printable}, 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    """A real llama.cpp vocabulary (byte-level BPE, tags as USER_DEFINED tokens) loaded vocab-only."""
    path = tmp_path_factory.mktemp("vocab") / "tags.gguf"
    tokens = [*_byte_tokens(), *TAGS, "<|begin_of_text|>", "<|end_of_text|>", *MERGED]
    types = [1] * 256 + [4] * len(TAGS) + [3, 3] + [1] * len(MERGED)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_feed_forward_length(8)
    writer.add_head_count(1)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(m) for m in MERGED])
    writer.add_bos_token_id(tokens.index("<|begin_of_text|>"))
    writer.add_eos_token_id(tokens.index("<|end_of_text|>"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model, "llama.cpp could not load the vocabulary-only GGUF"
    yield llama_cpp.llama_model_get_vocab(model), tokens
    llama_cpp.llama_model_free(model)


class _Constrained:
    """A llama.cpp grammar sampler over the test vocabulary: which tokens may come next."""

    def __init__(self, vocab: tuple[Any, list[str]], grammar: str) -> None:
        self.handle, self.tokens = vocab
        self.sampler = llama_cpp.llama_sampler_init_grammar(self.handle, grammar.encode(), b"root")
        assert self.sampler

    def allowed(self) -> set[str]:
        n = len(self.tokens)
        data = (llama_cpp.llama_token_data * n)(*[llama_cpp.llama_token_data(i, 0.0, 0.0) for i in range(n)])
        array = llama_cpp.llama_token_data_array(data, n, -1, False)
        llama_cpp.llama_sampler_apply(self.sampler, ctypes.byref(array))
        return {self.tokens[i] for i in range(n) if data[i].logit != -math.inf}

    def accept(self, token: str) -> None:
        llama_cpp.llama_sampler_accept(self.sampler, self.tokens.index(token))


@pytest.mark.parametrize("name", GBNF_NAMES)
def test_every_shipped_grammar_compiles_with_llama_cpp(profile: Profile, name: GbnfName) -> None:
    check_gbnf(load_gbnf(name, profile))


def test_a_broken_grammar_is_rejected_with_llama_cpps_reason() -> None:
    with pytest.raises(ProfileError, match="Undefined rule identifier 'smiles'"):
        check_gbnf('root ::= smiles "<MoleculeE>"\n')


def test_unknown_grammar_names_are_rejected(profile: Profile) -> None:
    with pytest.raises(ProfileError, match="No shipped GBNF grammar 'crystal'"):
        load_gbnf("crystal", profile)  # type: ignore[arg-type]


def test_shipped_grammars_follow_the_profiles_tags(profile: Profile) -> None:
    tags = {**profile.tags, "molecule": ("<Mol>", "</Mol>")}
    renamed = profile.model_copy(update={"tags": tags})
    grammar = load_gbnf("molecule_set", renamed)
    assert "<Mol>" in grammar
    assert "</Mol>" in grammar
    assert "<MoleculeS>" not in grammar
    check_gbnf(grammar)


def test_protein_grammar_allows_exactly_the_standard_letters(profile: Profile) -> None:
    assert f"[{AMINO_ACIDS}]" in load_gbnf("protein_sequence", profile)


def test_gbnf_literals_escape_quotes_and_backslashes() -> None:
    assert gbnf_literal('a"b\\c') == '"a\\"b\\\\c"'
    check_gbnf("root ::= " + gbnf_literal('a"b') + "\n")


def test_molecule_block_grammar_admits_smiles_characters_then_only_the_end_tag(
    profile: Profile, vocab: tuple[Any, list[str]]
) -> None:
    constrained = _Constrained(vocab, load_gbnf("molecule_block", profile))
    first = constrained.allowed()
    assert {"C", "c", "[", "(", "=", "#", "@", "1"} <= first
    assert not {"<MoleculeE>", "<ProteinS>", " ", "<|end_of_text|>"} & first
    constrained.accept("C")
    assert "<MoleculeE>" in constrained.allowed()
    constrained.accept("<MoleculeE>")
    assert constrained.allowed() == {"<|end_of_text|>"}


def test_pocket_answer_grammar_follows_the_input_letter_by_letter(
    profile: Profile, vocab: tuple[Any, list[str]]
) -> None:
    constrained = _Constrained(vocab, pocket_answer_gbnf("MKTLAV", profile))
    assert constrained.allowed() == {"M", "MK", "<PocketS>"}  # token references: no spelled-out tags
    constrained.accept("MK")
    assert constrained.allowed() == {"T", "TL", "<PocketS>"}
    constrained.accept("<PocketS>")
    assert constrained.allowed() == {"T"}
    constrained.accept("T")
    assert constrained.allowed() == {"<PocketE>"}
    for token in ("<PocketE>", "L", "A", "V"):
        constrained.accept(token)
    assert constrained.allowed() == {"<ProteinE>"}
    constrained.accept("<ProteinE>")
    assert constrained.allowed() == {"<|end_of_text|>"}


def test_pocket_answer_grammar_opens_the_protein_when_the_prompt_does_not(profile: Profile) -> None:
    task = profile.tasks["binding_site"].model_copy(
        update={"prompt": "<ProteinS>{sequence}<ProteinE><Search>"}
    )
    open_prompt = profile.model_copy(update={"tasks": {**profile.tasks, "binding_site": task}})
    assert pocket_answer_gbnf("MK", open_prompt).splitlines()[1] == "root ::= <ProteinS> part0 <ProteinE>"
    assert pocket_answer_gbnf("MK", profile).splitlines()[1] == "root ::= part0 <ProteinE>"


def test_pocket_answer_grammar_rejects_an_invalid_input_sequence(profile: Profile) -> None:
    with pytest.raises(EncodeError, match="'Z' at position 3"):
        pocket_answer_gbnf("MKZ", profile)


@pytest.mark.parametrize("length", [300, 1000])
def test_pocket_answer_grammar_stays_compact_and_compiles_fast(profile: Profile, length: int) -> None:
    sequence = "".join(random.Random(length).choices(AMINO_ACIDS, k=length))
    started = time.perf_counter()
    grammar = pocket_answer_gbnf(sequence, profile)
    check_gbnf(grammar)
    elapsed = time.perf_counter() - started
    rules = grammar.count("::=")
    assert rules <= 1 + math.ceil(length / 60) + len(AMINO_ACIDS)
    assert elapsed < 1.0, f"{length} residues took {elapsed:.3f} s to generate and compile"


def test_shipped_grammar_files_live_in_the_grammar_folder() -> None:
    from logos_tools.shipped import grammar_dir

    assert sorted(p.stem for p in Path(grammar_dir(), "gbnf").glob("*.gbnf")) == sorted(GBNF_NAMES)
