from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from logos_tools.errors import ConversionError, InputError
from logos_tools.grammar.profile import Profile
from logos_tools.models.convert import convert_checkpoint
from logos_tools.models.gguf_file import inspect_gguf
from logos_tools.models.native import load_model, open_llama
from tests.models.tiny_checkpoints import build_tiny_llama, build_tiny_qwen3

PROMPT = "<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE><ReverseReact><MoleculeS>CC<ProteinS>MKTAYIAKQR"


def _hf_ids(hf_dir: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return list(Tokenizer.from_file(str(hf_dir / "tokenizer.json")).encode(text, add_special_tokens=True).ids)


def _hf_logits(hf_dir: Path, ids: list[int]) -> np.ndarray[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    with torch.no_grad():
        result: np.ndarray[Any, Any] = model(torch.tensor([ids])).logits[0].numpy()
    return result


def _gguf_logits(path: Path, ids: list[int]) -> np.ndarray[Any, Any]:
    llm = open_llama(path, n_ctx=128, f32_kv=True, logits_all=True)
    try:
        llm.eval(ids)
        return np.asarray(llm.scores[: len(ids)], dtype=np.float32)
    finally:
        llm.close()


def test_llama_f32_gguf_gives_transformers_logits_within_1e_4(
    tiny_llama_dir: Path, tiny_llama_f32: Path
) -> None:
    ids = _hf_ids(tiny_llama_dir, PROMPT)
    reference = _hf_logits(tiny_llama_dir, ids)
    got = _gguf_logits(tiny_llama_f32, ids)
    assert np.abs(reference).max() > 1.0  # far from uniform, so a wrong mapping would show
    assert np.abs(got - reference).max() < 1e-4


def test_qwen3_f32_gguf_gives_transformers_logits_within_1e_4(
    tiny_qwen3_dir: Path, tiny_qwen3_f32: Path
) -> None:
    ids = _hf_ids(tiny_qwen3_dir, PROMPT)
    reference = _hf_logits(tiny_qwen3_dir, ids)
    got = _gguf_logits(tiny_qwen3_f32, ids)
    assert np.abs(got - reference).max() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("tied-default-rope", {"tie_word_embeddings": True, "rope": "default"}),
        ("bf16-weights", {"dtype": "bfloat16"}),
    ],
)
def test_llama_variants_convert_with_exact_logits(
    variant: str, options: dict[str, Any], tmp_path: Path
) -> None:
    hf_dir = build_tiny_llama(tmp_path / variant, **options)
    out = tmp_path / f"{variant}.gguf"
    report = convert_checkpoint(hf_dir, out, out_type="f32")
    ids = _hf_ids(hf_dir, PROMPT)
    assert np.abs(_gguf_logits(out, ids) - _hf_logits(hf_dir, ids)).max() < 1e-4
    assert report.tied_embeddings is options.get("tie_word_embeddings", False)


@pytest.mark.slow
def test_untied_qwen3_converts_with_exact_logits(tmp_path: Path) -> None:
    hf_dir = build_tiny_qwen3(tmp_path / "qwen3-untied", tie_word_embeddings=False)
    out = tmp_path / "qwen3-untied.gguf"
    report = convert_checkpoint(hf_dir, out, out_type="f32")
    ids = _hf_ids(hf_dir, PROMPT)
    assert not report.tied_embeddings
    assert np.abs(_gguf_logits(out, ids) - _hf_logits(hf_dir, ids)).max() < 1e-4


@pytest.mark.parametrize(("out_type", "relative_bound"), [("f16", 0.02), ("bf16", 0.05)])
def test_half_precision_outputs_stay_close_to_transformers(
    tiny_llama_dir: Path, tiny_llama_f32: Path, tmp_path: Path, out_type: str, relative_bound: float
) -> None:
    out = tmp_path / f"tiny-{out_type}.gguf"
    report = convert_checkpoint(tiny_llama_dir, out, out_type=out_type)  # type: ignore[arg-type]
    ids = _hf_ids(tiny_llama_dir, PROMPT)
    reference = _hf_logits(tiny_llama_dir, ids)
    got = _gguf_logits(out, ids)
    assert np.abs(got - reference).max() / np.abs(reference).max() < relative_bound
    assert inspect_gguf(out, compute_sha256=False).quantization == out_type.upper()
    assert report.file_size < 0.6 * tiny_llama_f32.stat().st_size


def test_llama_report_records_reference_bos_eos_and_pad(tiny_llama_dir: Path, tmp_path: Path) -> None:
    report = convert_checkpoint(tiny_llama_dir, tmp_path / "t.gguf", out_type="f32")
    with load_model(tmp_path / "t.gguf", vocab_only=True) as model:
        assert model.detokenize([model.bos_id or 0]) == "<|begin_of_text|>"
        assert model.detokenize([model.eos_id or 0]) == "<|end_of_text|>"
        assert model.add_bos
    info = inspect_gguf(tmp_path / "t.gguf", compute_sha256=False)
    assert (report.bos_id, report.eos_id, report.pad_id) == (info.bos_id, info.eos_id, info.pad_id)
    assert info.tokenizer_model == "gpt2"
    assert info.tokenizer_pre == "llama-bpe"
    assert report.rope_type == "llama3"


def test_qwen3_gets_qwen2_pre_tokenizer_no_bos_and_unused_padding_rows(
    tiny_qwen3_dir: Path, tmp_path: Path
) -> None:
    report = convert_checkpoint(tiny_qwen3_dir, tmp_path / "q.gguf", out_type="f32")
    info = inspect_gguf(tmp_path / "q.gguf", compute_sha256=False)
    assert info.tokenizer_pre == "qwen2"
    assert info.add_bos is False
    assert report.vocab_size == report.tokenizer_tokens + 12
    with load_model(tmp_path / "q.gguf", vocab_only=True) as model:
        assert model.detokenize([model.eos_id or 0]) == "<|endoftext|>"
        assert model.n_vocab == report.vocab_size
        assert model.detokenize([report.vocab_size - 1]) == ""  # [PADn] rows are UNUSED, never rendered


def test_tags_are_user_defined_single_tokens_that_render_as_text(
    tiny_llama_f32: Path, profile: Profile
) -> None:
    info = inspect_gguf(tiny_llama_f32, tags=profile.all_tags(), compute_sha256=False)
    assert {t.token_type for t in info.tags} == {"user_defined"}
    with load_model(tiny_llama_f32, vocab_only=True) as model:
        for tag in profile.all_tags():
            with_special = model.tokenize(tag, special=True)
            assert with_special == model.tokenize(tag, special=False)
            assert len(with_special) == 1
            assert model.detokenize(with_special, special=False) == tag


def test_control_tag_option_marks_tags_control_so_plain_tokenizing_splits_them(
    tiny_llama_dir: Path, tmp_path: Path, profile: Profile
) -> None:
    out = tmp_path / "control.gguf"
    convert_checkpoint(tiny_llama_dir, out, out_type="f32", tag_token_type="control")
    info = inspect_gguf(out, tags=profile.all_tags(), compute_sha256=False)
    assert {t.token_type for t in info.tags} == {"control"}
    assert info.logos_metadata["logos.tag_token_type"] == "control"
    with load_model(out, vocab_only=True) as model:
        assert len(model.tokenize("<MoleculeS>", special=True)) == 1
        assert len(model.tokenize("<MoleculeS>", special=False)) > 1
        assert model.detokenize(model.tokenize("<MoleculeS>", special=True), special=False) == ""


def test_tag_ids_profile_and_demo_flag_are_recorded_in_metadata(
    tiny_llama_dir: Path, tmp_path: Path, profile: Profile
) -> None:
    out = tmp_path / "demo-like.gguf"
    report = convert_checkpoint(tiny_llama_dir, out, out_type="f16", is_demo=True)
    meta = inspect_gguf(out, compute_sha256=False).logos_metadata
    assert meta["logos.profile"] == "logos-v1"
    assert meta["logos.demo"] is True
    assert dict(zip(meta["logos.tag_names"], meta["logos.tag_ids"], strict=True)) == report.tag_ids
    assert list(report.tag_ids) == list(profile.all_tags())
    with load_model(out, vocab_only=True) as model:
        assert model.tag_ids(profile.all_tags()) == report.tag_ids


def test_progress_reports_growing_bytes_up_to_the_total(tiny_llama_dir: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    convert_checkpoint(tiny_llama_dir, tmp_path / "p.gguf", progress=lambda d, t, n: calls.append((d, t, n)))
    done = [d for d, _, _ in calls]
    assert done == sorted(done)
    assert done[-1] == calls[-1][1]
    assert {n for _, _, n in calls} >= {"token_embd.weight", "output.weight", "blk.1.attn_q.weight"}


def test_failed_conversion_leaves_no_partial_file(tiny_llama_dir: Path, tmp_path: Path) -> None:
    def interrupt(done: int, total: int, name: str) -> None:
        if name.startswith("blk.1"):
            raise KeyboardInterrupt

    out = tmp_path / "out" / "model.gguf"
    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(tiny_llama_dir, out, progress=interrupt)
    assert list(out.parent.iterdir()) == []


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_unknown_pre_tokenizer_regex_fails_loudly(tiny_llama_dir: Path, tmp_path: Path) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "gpt2-like")
    tokenizer_path = hf_dir / "tokenizer.json"
    data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    data["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"'s|'t|'re| ?\p{L}+| ?\p{N}+"
    tokenizer_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConversionError, match=r"unknown regex.*mis-tokenizes silently"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_llama_regex_without_ignore_merges_is_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "no-ignore")
    tokenizer_path = hf_dir / "tokenizer.json"
    data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    data["model"]["ignore_merges"] = False
    tokenizer_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConversionError, match="ignore_merges"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_tokenizer_without_logos_tags_is_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "no-tags")
    tokenizer_path = hf_dir / "tokenizer.json"
    data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    for added in data["added_tokens"]:
        if added["content"] == "<Trans>":
            added["content"] = "<Translate>"
    tokenizer_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConversionError, match=r"no token for the LOGOS tags \['<Trans>'\]"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_unknown_architecture_is_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "mistral")
    config_path = hf_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["architectures"] = ["MistralForCausalLM"]
    config["model_type"] = "mistral"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ConversionError, match="MistralForCausalLM"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_unexpected_tensor_is_refused_rather_than_dropped(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    hf_dir = _copy(tiny_llama_dir, tmp_path / "extra")
    tensors = load_file(str(hf_dir / "model.safetensors"))
    tensors["model.layers.0.self_attn.extra_gate.weight"] = np.ones((4, 4), dtype=np.float32)
    save_file(tensors, str(hf_dir / "model.safetensors"))
    with pytest.raises(ConversionError, match="extra_gate"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_truncated_safetensors_is_reported(tiny_llama_dir: Path, tmp_path: Path) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "cut")
    weights = hf_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_sharded_checkpoint_converts_like_the_single_file(
    tiny_llama_dir: Path, tiny_llama_f32: Path, tmp_path: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    hf_dir = _copy(tiny_llama_dir, tmp_path / "sharded")
    tensors = load_file(str(hf_dir / "model.safetensors"))
    (hf_dir / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for shard, shard_names in shards.items():
        save_file({n: tensors[n] for n in shard_names}, str(hf_dir / shard))
        weight_map.update(dict.fromkeys(shard_names, shard))
    (hf_dir / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": weight_map}), encoding="utf-8"
    )
    out = tmp_path / "sharded.gguf"
    convert_checkpoint(hf_dir, out, out_type="f32", name="tiny-llama")
    reference = convert_checkpoint(
        tiny_llama_dir, tmp_path / "single.gguf", out_type="f32", name="tiny-llama"
    )
    assert out.read_bytes() == Path(reference.output).read_bytes()


def test_llama_tokenizer_saved_without_ignore_merges_field_gets_a_precise_fix(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "old-tokenizers")
    tokenizer_path = hf_dir / "tokenizer.json"
    data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    del data["model"]["ignore_merges"]
    tokenizer_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConversionError, match=r'add "ignore_merges": true'):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")


def test_old_style_rope_theta_and_rope_scaling_give_the_same_gguf(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "old-config")
    config_path = hf_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = rope  # transformers 4.x layout
    config_path.write_text(json.dumps(config), encoding="utf-8")
    old = convert_checkpoint(hf_dir, tmp_path / "old.gguf", out_type="f32", name="same")
    new = convert_checkpoint(tiny_llama_dir, tmp_path / "new.gguf", out_type="f32", name="same")
    assert old.rope_type == "llama3"
    assert Path(old.output).read_bytes() == Path(new.output).read_bytes()


def _edit_config(hf_dir: Path, **changes: object) -> None:
    config_path = hf_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(changes)
    config_path.write_text(json.dumps(config), encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size": 128}, r"tensor '.*' has shape \[\d+, 64\] but config\.json \(hidden_size=128"),
        ({"num_key_value_heads": 4}, r"k_proj\.weight' has shape \[32, 64\] but .*implies \[64, 64\]"),
        ({"num_attention_heads": 8}, r"o_proj\.weight' has shape \[64, 64\] but .*implies \[64, 128\]"),
        ({"intermediate_size": 256}, r"mlp\..*_proj\.weight' has shape .*intermediate_size=256"),
        ({"vocab_size": 1000}, r"vocab_size=1000 but model\.embed_tokens\.weight has \d+ rows"),
        ({"num_attention_heads": 0}, r"num_attention_heads=0; it must be a positive integer"),
    ],
)
def test_a_config_that_disagrees_with_the_weights_is_refused_before_writing(
    tiny_llama_dir: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / "mismatch")
    _edit_config(hf_dir, **changes)
    out = tmp_path / "out" / "x.gguf"
    with pytest.raises(ConversionError, match=message) as caught:
        convert_checkpoint(hf_dir, out)
    assert "config.json" in str(caught.value)
    assert "ownload" in str(caught.value)  # the fix
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_missing_shard_is_named_with_the_fix(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    hf_dir = _copy(tiny_llama_dir, tmp_path / "sharded")
    tensors = load_file(str(hf_dir / "model.safetensors"))
    (hf_dir / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map = {}
    for shard, shard_names in (
        ("model-00001-of-00002.safetensors", names[::2]),
        ("model-00002-of-00002.safetensors", names[1::2]),
    ):
        save_file({n: tensors[n] for n in shard_names}, str(hf_dir / shard))
        weight_map.update(dict.fromkeys(shard_names, shard))
    (hf_dir / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": weight_map}), encoding="utf-8"
    )
    (hf_dir / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(
        ConversionError, match=r"lacks the weight file model-00002-of-00002\.safetensors.*download"
    ):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-config", r"has no config\.json, so it is not a Hugging Face checkpoint folder"),
        ("no-weights", r"holds no \*\.safetensors weights\. Download the whole checkpoint folder"),
        ("no-tokenizer", r"has no tokenizer\.json\..*download the full checkpoint folder"),
        ("empty-tokenizer", r"tokenizer\.json is an empty JSON object, not a tokenizer\. Download"),
        ("wordpiece", r"tokenizer\.json is a 'WordPiece' model, not byte-level BPE.*download it again"),
        ("bert", r"config\.json describes a \['BertModel'\] model.*Pass the folder of a LOGOS checkpoint"),
    ],
)
def test_broken_checkpoint_folders_name_the_file_the_rule_and_the_fix(
    tiny_llama_dir: Path, tmp_path: Path, damage: str, message: str
) -> None:
    hf_dir = _copy(tiny_llama_dir, tmp_path / damage)
    if damage == "no-config":
        (hf_dir / "config.json").unlink()
    elif damage == "no-weights":
        (hf_dir / "model.safetensors").unlink()
    elif damage == "no-tokenizer":
        (hf_dir / "tokenizer.json").unlink()
    elif damage == "empty-tokenizer":
        (hf_dir / "tokenizer.json").write_text("{}", encoding="utf-8")
    elif damage == "wordpiece":
        data = json.loads((hf_dir / "tokenizer.json").read_text(encoding="utf-8"))
        data["model"]["type"] = "WordPiece"
        (hf_dir / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    else:
        _edit_config(hf_dir, architectures=["BertModel"], model_type="bert")
    with pytest.raises(ConversionError, match=message):
        convert_checkpoint(hf_dir, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_an_output_path_that_is_a_folder_or_under_a_file_is_refused(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(InputError, match=r"models is a folder\. Pass a file path in it, e.g\. .*model\.gguf"):
        convert_checkpoint(tiny_llama_dir, folder)
    blocker = tmp_path / "file.gguf"
    blocker.write_bytes(b"x")
    with pytest.raises(InputError, match=r"Cannot create the folder .*file\.gguf for output"):
        convert_checkpoint(tiny_llama_dir, blocker / "x.gguf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.gguf", "models"]
    assert list(folder.iterdir()) == []
