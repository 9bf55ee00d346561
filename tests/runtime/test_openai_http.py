"""The OpenAI-compatible backend against a real llama_cpp.server serving the demo GGUF."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logos_tools.errors import BackendUnavailableError
from logos_tools.runtime.base import GenerationRequest, SamplingParams
from logos_tools.runtime.llamacpp import LlamaCppBackend
from logos_tools.runtime.openai_http import OpenAICompatibleBackend, OpenAIOptions

GREEDY = SamplingParams(temperature=0.0, repetition_penalty=1.0, seed=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(demo_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(demo_path),
            "--model_alias",
            "logos-demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"llama_cpp.server exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("llama_cpp.server did not start within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def test_greedy_answers_over_http_equal_the_in_process_runtime(
    server_url: str, demo_backend: LlamaCppBackend
) -> None:
    remote = OpenAICompatibleBackend(OpenAIOptions(base_url=server_url, model="logos-demo"))
    request = GenerationRequest(
        prompt="<MoleculeS>CC(=O)N", n=3, stop=("<MoleculeE>",), max_new_tokens=48, sampling=GREEDY
    )
    try:
        over_http = remote.generate(request)
    finally:
        remote.close()
    local = demo_backend.generate(request)
    assert [s.text for s in over_http.samples] == [s.text for s in local.samples]
    assert all(s.text.endswith("<MoleculeE>") for s in over_http.samples)
    assert remote.info.model_name == "logos-demo"


def test_sampled_answers_over_http_are_complete_blocks_and_repeat_with_a_seed(server_url: str) -> None:
    remote = OpenAICompatibleBackend(OpenAIOptions(base_url=server_url))
    request = GenerationRequest(
        prompt="<MoleculeS>", n=4, stop=("<MoleculeE>",), max_new_tokens=64, sampling=SamplingParams(seed=5)
    )
    try:
        first = [s.text for s in remote.generate(request).samples]
        second = [s.text for s in remote.generate(request).samples]
    finally:
        remote.close()
    assert first == second
    assert sum(text.endswith("<MoleculeE>") for text in first) >= 3


def test_scoring_over_http_matches_the_in_process_log_likelihood(
    server_url: str, demo_backend: LlamaCppBackend
) -> None:
    remote = OpenAICompatibleBackend(OpenAIOptions(base_url=server_url))
    pair = ("<MoleculeS>CC(=O)Oc1ccccc1C(=O)O<MoleculeE><ReverseReact>", "<MoleculeS>CC(=O)O<MoleculeE>")
    try:
        (over_http,) = remote.score([pair])
    finally:
        remote.close()
    (local,) = demo_backend.score([pair])
    # llama_cpp.server echoes no log-prob for the first text token (the one after BOS): the rest match.
    assert over_http.token_logprobs == pytest.approx(local.token_logprobs[1:], abs=2e-3)
    assert over_http.answer_perplexity == pytest.approx(local.answer_perplexity, rel=1e-3)


def test_a_server_serving_another_model_is_refused_by_name(server_url: str) -> None:
    remote = OpenAICompatibleBackend(OpenAIOptions(base_url=server_url, model="LOGOS-8B"))
    with pytest.raises(BackendUnavailableError, match="logos-demo"):
        remote.check()
    remote.close()


def test_an_unreachable_server_is_a_clear_error() -> None:
    remote = OpenAICompatibleBackend(
        OpenAIOptions(base_url=f"http://127.0.0.1:{_free_port()}/v1", max_retries=1, backoff_s=0.01)
    )
    with pytest.raises(BackendUnavailableError, match="Cannot reach the LOGOS server"):
        remote.generate(GenerationRequest(prompt="<MoleculeS>"))
    remote.close()


def test_busy_answers_are_retried_with_backoff() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        if len([c for c in calls if c.endswith("/completions")]) < 3:
            return httpx.Response(503, headers={"retry-after": "0"}, json={"error": "busy"})
        return httpx.Response(200, json={"choices": [{"text": "CCO<MoleculeE>", "finish_reason": "stop"}]})

    remote = OpenAICompatibleBackend(
        OpenAIOptions(base_url="http://server.test/v1", backoff_s=0.001),
        transport=httpx.MockTransport(handler),
    )
    result = remote.generate(GenerationRequest(prompt="<MoleculeS>", stop=("<MoleculeE>",), logprobs=False))
    assert [s.text for s in result.samples] == ["CCO<MoleculeE>"]
    assert [c for c in calls if c.endswith("/completions")] == ["/v1/completions"] * 3
