from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import llama_cpp.llama_cpp as llama_lowlevel
import pytest

from logos_tools.errors import ModelFileError, ModelNotFoundError
from logos_tools.grammar.profile import Profile
from logos_tools.models.native import (
    cpu_has_amx,
    extra_buffers_allowed,
    load_model,
    model_params,
    open_llama,
)
from tests.models.tiny_checkpoints import copy_with_string_value


def _cpu_flags() -> set[str]:
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo")
def test_cpu_has_amx_follows_the_cpu_flags_and_the_build() -> None:
    flags_say = bool(_cpu_flags() & {"amx_tile", "amx_int8", "amx_bf16"})
    build_says = "AMX" in llama_lowlevel.llama_print_system_info().decode().upper()
    assert cpu_has_amx() is (flags_say or build_says)


def test_extra_buffers_are_refused_only_for_quantized_files_on_amx_cpus() -> None:
    assert extra_buffers_allowed(quantized=True, amx=True) is False
    assert extra_buffers_allowed(quantized=True, amx=False) is True
    assert extra_buffers_allowed(quantized=False, amx=True) is True
    assert extra_buffers_allowed(quantized=False, amx=False) is True


def test_model_params_keep_extra_buffers_for_float_files(tiny_llama_f16: Path) -> None:
    assert model_params(tiny_llama_f16).use_extra_bufts is True


def test_model_params_apply_the_amx_rule_to_quantized_files(tiny_llama_q8: Path) -> None:
    assert model_params(tiny_llama_q8).use_extra_bufts is (not cpu_has_amx())
    assert model_params(tiny_llama_q8, use_extra_bufts=False).use_extra_bufts is False


def test_model_params_offload_all_layers_only_when_the_build_can() -> None:
    pass_all = llama_lowlevel.llama_supports_gpu_offload()
    from logos_tools.models.native import default_gpu_layers

    assert default_gpu_layers() == (-1 if pass_all else 0)


def test_model_params_honour_an_explicit_gpu_layer_count(tiny_llama_f16: Path) -> None:
    assert model_params(tiny_llama_f16, n_gpu_layers=3).n_gpu_layers == 3


def test_open_llama_loads_without_extra_buffers_when_asked_and_restores_defaults(tiny_llama_q8: Path) -> None:
    llm = open_llama(tiny_llama_q8, n_ctx=64, use_extra_bufts=False)
    try:
        assert llm.model_params.use_extra_bufts is False
        assert llm.tokenize(b"<MoleculeS>", add_bos=False, special=True) != []
    finally:
        llm.close()
    assert llama_lowlevel.llama_model_default_params().use_extra_bufts is True


def test_open_llama_uses_an_f32_kv_cache_on_request(tiny_llama_f32: Path) -> None:
    llm = open_llama(tiny_llama_f32, n_ctx=64, f32_kv=True)
    try:
        assert llm.context_params.type_k == llama_lowlevel.GGML_TYPE_F32
        assert llm.context_params.type_v == llama_lowlevel.GGML_TYPE_F32
    finally:
        llm.close()


def test_load_model_exposes_vocabulary_context_and_tag_ids(tiny_llama_f32: Path, profile: Profile) -> None:
    with load_model(tiny_llama_f32) as model:
        assert model.vocab is not None
        assert model.n_vocab == 516
        assert model.n_ctx_train == 512
        assert model.n_layer == 2
        tag_ids = model.tag_ids(profile.all_tags())
        assert len(set(tag_ids.values())) == 16
        assert model.tokenize("<MoleculeS>CCO<MoleculeE>")[0] == tag_ids["<MoleculeS>"]
        assert model.tokenize("CCO", add_bos=True)[0] == model.bos_id


def test_native_model_close_is_idempotent_and_use_after_close_is_an_error(tiny_llama_f32: Path) -> None:
    model = load_model(tiny_llama_f32, vocab_only=True)
    model.close()
    model.close()
    assert model.closed
    with pytest.raises(ModelFileError, match="was closed"):
        _ = model.n_vocab


def test_tag_ids_name_the_tags_a_model_lacks(tiny_llama_f32: Path) -> None:
    with (
        load_model(tiny_llama_f32, vocab_only=True) as model,
        pytest.raises(ModelFileError, match=r"\['<NotATag>'\].*not a LOGOS model"),
    ):
        model.tag_ids(["<MoleculeS>", "<NotATag>"])


def test_llama_cpp_rejection_carries_its_reason_and_a_fix(tiny_llama_f32: Path, tmp_path: Path) -> None:
    bad = copy_with_string_value(tiny_llama_f32, tmp_path / "bad-pre.gguf", "tokenizer.ggml.pre", "nonesuchx")
    with pytest.raises(
        ModelFileError, match=r"could not load .*bad-pre\.gguf.*nonesuchx.*logos model convert"
    ):
        load_model(bad)
    with pytest.raises(ModelFileError, match="nonesuchx"):
        open_llama(bad, n_ctx=64)


def test_missing_and_non_gguf_files_are_reported_before_llama_cpp(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="No model file"):
        load_model(tmp_path / "absent.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        open_llama(text, n_ctx=64)


def test_llama_cpp_logs_go_to_logging_never_to_stdout_or_stderr(
    tiny_llama_f32: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="logos_tools.models.native.llama_cpp"):
        with load_model(tiny_llama_f32) as model:
            assert model.n_vocab > 0
        llm = open_llama(tiny_llama_f32, n_ctx=64)
        llm.close()
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert any("llama" in record.getMessage() for record in caplog.records)


_GENERATE_SCRIPT = textwrap.dedent(
    """
    import itertools, sys
    from pathlib import Path
    import llama_cpp.llama_cpp as ll
    from logos_tools.models.native import cpu_has_amx, load_model, open_llama

    path = Path(sys.argv[1])
    extra = None if sys.argv[2] == "auto" else False
    llm = open_llama(path, n_ctx=128, n_threads=2, use_extra_bufts=extra)
    prompt = llm.tokenize(b"<MoleculeS>CC", add_bos=True, special=True)
    high = list(itertools.islice(llm.generate(prompt, temp=0.0), 16))
    llm.close()

    model = load_model(path, use_extra_bufts=extra)
    params = ll.llama_context_default_params()
    params.n_ctx = 128
    params.n_threads = params.n_threads_batch = 2
    ctx = ll.llama_init_from_model(model.model, params)
    tokens = model.tokenize("<MoleculeS>CC", add_bos=True)
    low = []
    for _ in range(16):
        array = (ll.llama_token * len(tokens))(*tokens)
        assert ll.llama_decode(ctx, ll.llama_batch_get_one(array, len(tokens))) == 0
        logits = ll.llama_get_logits_ith(ctx, -1)
        best = max(range(model.n_vocab), key=lambda i: logits[i])
        low.append(best)
        tokens = [best]
    ll.llama_free(ctx)
    model.close()
    print(len(high), len(low), cpu_has_amx(), model.params.use_extra_bufts)
    """
)


@pytest.mark.parametrize("buffers", ["auto", "off"])
def test_quantized_model_generates_on_this_cpu_in_both_load_paths(tiny_llama_q8: Path, buffers: str) -> None:
    # A subprocess: without the AMX workaround the first decode segfaults, which must fail this
    # test rather than kill pytest. "auto" is what users get; "off" forces the workaround's path.
    result = subprocess.run(
        [sys.executable, "-c", _GENERATE_SCRIPT, str(tiny_llama_q8), buffers],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    high, low, amx, extra = result.stdout.split()
    assert (high, low) == ("16", "16")
    assert extra == (str(amx != "True") if buffers == "auto" else "False")
