"""The shipped demo model: files present, hashes and sizes as the manifest records, loads and generates."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from logos_tools.grammar.profile import Profile
from logos_tools.models.gguf_file import inspect_gguf
from logos_tools.models.manifest import load_manifest
from logos_tools.models.native import load_model
from tests.demo_model import DEMO_F16, DEMO_HF, DEMO_HF_FILES, DEMO_Q8


def test_the_demo_checkpoint_and_both_ggufs_are_shipped() -> None:
    for name in DEMO_HF_FILES:
        assert (DEMO_HF / name).is_file(), name
    assert DEMO_F16.is_file()
    assert DEMO_Q8.is_file()


@pytest.mark.parametrize("variant", ["f16", "q8_0"])
def test_each_shipped_gguf_matches_the_sha256_and_size_in_the_manifest(variant: str) -> None:
    manifest = load_manifest()
    entry = manifest.demo.files[variant]
    path = manifest.demo_path(variant)
    assert entry.sha256 is not None, f"gguf/manifest.toml has no sha256 for the {variant} demo file"
    assert path.stat().st_size == entry.size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


def test_the_manifest_records_the_demo_quality_measured_by_the_recipe() -> None:
    quality = load_manifest().demo.quality
    for key in ("valid_smiles_t1.2", "retro_round_trip_t1.2", "search_follows_input", "mof_block_valid_t1.2"):
        value = quality[key]
        assert isinstance(value, float)
        assert 0.0 <= value <= 1.0
    assert quality["recipe_version"] == 1


@pytest.mark.parametrize("path", [DEMO_F16, DEMO_Q8], ids=["f16", "q8_0"])
def test_every_logos_tag_is_one_user_defined_token_of_the_shipped_gguf(path: Path, profile: Profile) -> None:
    info = inspect_gguf(path, tags=profile.all_tags(), compute_sha256=False)
    assert info.tags_missing == []
    assert {tag.token_type for tag in info.tags} == {"user_defined"}
    assert info.is_demo
    with load_model(path, vocab_only=True) as model:
        for tag in profile.all_tags():
            assert len(model.tokenize(tag, special=True)) == 1, tag
            assert len(model.tokenize(tag, special=False)) == 1, tag


def test_the_shipped_checkpoint_is_a_llama_with_an_untied_head_and_a_llama3_tokenizer() -> None:
    config = json.loads((DEMO_HF / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["tie_word_embeddings"] is False
    assert config["num_key_value_heads"] < config["num_attention_heads"]
    assert config["max_position_embeddings"] >= 2048
    tokenizer = json.loads((DEMO_HF / "tokenizer.json").read_text(encoding="utf-8"))
    assert tokenizer["model"]["ignore_merges"] is True
    assert [step["type"] for step in tokenizer["pre_tokenizer"]["pretokenizers"]] == ["Split", "ByteLevel"]


# Runs in a child process: a native crash (the AMX segfault of quantized files) must fail this test,
# not kill pytest.
_GENERATE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from logos_tools.models.native import open_llama

    llm = open_llama(Path(sys.argv[1]), n_ctx=256, n_threads=2, seed=3)
    prompt = llm.tokenize(b"<MoleculeS>", add_bos=True, special=True)
    stop = llm.tokenize(b"<MoleculeE>", add_bos=False, special=True)[0]
    out = []
    for token in llm.generate(prompt, top_k=50, top_p=0.85, min_p=0.0, temp=1.2, repeat_penalty=1.05):
        out.append(token)
        if token in (stop, llm.token_eos()) or len(out) >= 96:
            break
    sys.stdout.write(llm.detokenize(out, special=True).decode("utf-8", errors="replace"))
    """
)


@pytest.mark.parametrize("path", [DEMO_F16, DEMO_Q8], ids=["f16", "q8_0"])
def test_the_shipped_gguf_loads_in_llama_cpp_and_generates_a_molecule_on_this_cpu(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _GENERATE, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, (
        f"exit {result.returncode} (negative: killed by a signal): {result.stderr[-2000:]}"
    )
    assert result.stdout.endswith("<MoleculeE>"), result.stdout
