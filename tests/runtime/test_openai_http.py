"""The OpenAI-compatible backend against a real llama_cpp.server serving the demo GGUF."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from logos_tools.errors import BackendError, BackendUnavailableError
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


# -- error handling against a tiny local HTTP server ------------------------------------------

Reply = tuple[int, object, dict[str, str]]


class _Server:
    """A local OpenAI-shaped server whose answers each test scripts; records every request."""

    def __init__(self, reply: Callable[[str, dict[str, object]], Reply]) -> None:
        self.reply = reply
        self.requests: list[tuple[str, float, dict[str, object]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _answer(self, payload: dict[str, object]) -> None:
                outer.requests.append((self.path, time.monotonic(), payload))
                status, body, headers = outer.reply(self.path, payload)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def do_GET(self) -> None:
                self._answer({})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self._answer(json.loads(self.rfile.read(length) or b"{}"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def completions(self) -> list[tuple[str, float, dict[str, object]]]:
        return [r for r in self.requests if r[0].endswith("/completions")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


MODELS: Reply = (200, {"data": [{"id": "logos-remote"}]}, {})
DONE: Reply = (200, {"choices": [{"text": "CCO<MoleculeE>", "finish_reason": "stop"}]}, {})


@contextlib.contextmanager
def _serving(
    reply: Callable[[str, dict[str, object]], Reply], **options: Any
) -> Iterator[tuple[_Server, OpenAICompatibleBackend]]:
    server = _Server(reply)
    backend = OpenAICompatibleBackend(OpenAIOptions(base_url=server.url, **options))
    try:
        yield server, backend
    finally:
        backend.close()
        server.close()


def _completions_answer(answer: Reply) -> Callable[[str, dict[str, object]], Reply]:
    return lambda path, _payload: MODELS if path.endswith("/models") else answer


MOLECULE = GenerationRequest(prompt="<MoleculeS>", stop=("<MoleculeE>",), max_new_tokens=16)


def test_a_server_error_is_reported_with_its_status_and_body_without_retrying() -> None:
    with (
        _serving(_completions_answer((500, {"error": "boom"}, {})), backoff_s=0.001) as (server, backend),
        pytest.raises(BackendError, match=r"/v1/completions failed with HTTP 500: .*boom.*server's log"),
    ):
        backend.generate(MOLECULE)
    assert len(server.completions()) == 1


def test_a_base_url_without_the_api_root_gets_a_404_hint_about_v1() -> None:
    with (
        _serving(lambda _path, _payload: (404, {"detail": "Not Found"}, {})) as (_server, backend),
        pytest.raises(BackendUnavailableError, match=r"/v1/models answered HTTP 404.*ending in /v1"),
    ):
        backend.check()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, "<html>hello</html>", {}), "did not answer JSON: '<html>hello</html>'"),
        ((200, [1, 2], {}), "answered \\[1, 2\\], not a JSON object"),
        ((200, {"choices": ["CCO"]}, {}), "without a completion choice"),
        ((200, {"id": "x"}, {}), "without a completion choice"),
    ],
)
def test_answers_that_are_not_the_openai_api_are_clear_errors(answer: Reply, message: str) -> None:
    with (
        _serving(_completions_answer(answer)) as (_server, backend),
        pytest.raises(BackendError, match=message),
    ):
        backend.generate(MOLECULE)


def test_a_server_serving_another_model_name_is_refused_naming_both() -> None:
    with (
        _serving(_completions_answer(DONE), model="LOGOS-8B") as (server, backend),
        pytest.raises(BackendUnavailableError, match=r"serves \['logos-remote'\], not 'LOGOS-8B'"),
    ):
        backend.generate(MOLECULE)
    assert server.completions() == []


def test_a_server_that_does_not_answer_in_time_is_a_timeout_error() -> None:
    release = threading.Event()

    def reply(path: str, _payload: dict[str, object]) -> Reply:
        if path.endswith("/models"):
            return MODELS
        release.wait(10)
        return DONE

    with _serving(reply, timeout_s=0.3, backoff_s=0.001) as (server, backend):
        try:
            with pytest.raises(BackendError, match=r"did not answer within 0\.3 s"):
                backend.generate(MOLECULE)
        finally:
            release.set()
        assert len(server.completions()) == 1  # a timeout is not retried: the server is working on it


@pytest.mark.parametrize("status", [429, 503])
def test_busy_answers_are_retried_with_exponential_backoff_then_given_up_with_the_count(status: int) -> None:
    busy: Reply = (status, {"error": "busy"}, {})
    with (
        _serving(_completions_answer(busy), max_retries=3, backoff_s=0.02) as (server, backend),
        pytest.raises(BackendUnavailableError, match=rf"HTTP {status} .*giving up after 4 attempts"),
    ):
        backend.generate(MOLECULE)
    times = [t for _path, t, _payload in server.completions()]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.02 * 2**i * 0.9 for i, gap in enumerate(gaps)), gaps


def test_a_retry_after_longer_than_the_cap_gives_up_at_once_instead_of_hanging() -> None:
    busy: Reply = (429, {"error": "slow down"}, {"Retry-After": "3600"})
    with _serving(_completions_answer(busy), max_retries=3, max_retry_wait_s=1.0) as (server, backend):
        with pytest.raises(
            BackendUnavailableError, match=r"asks to wait 3600 s \(Retry-After\), longer than the 1 s"
        ):
            backend.generate(MOLECULE)
        assert len(server.completions()) == 1


def test_n_samples_are_sent_as_parallel_requests_with_consecutive_seeds() -> None:
    # Every request waits at the barrier until all four have arrived: sequential requests would break it.
    barrier = threading.Barrier(4, timeout=10)

    def reply(path: str, payload: dict[str, object]) -> Reply:
        if path.endswith("/models"):
            return MODELS
        barrier.wait()
        return (200, {"choices": [{"text": f"C{payload['seed']}<MoleculeE>", "finish_reason": "stop"}]}, {})

    request = GenerationRequest(
        prompt="<MoleculeS>", n=4, stop=("<MoleculeE>",), max_new_tokens=16, sampling=SamplingParams(seed=7)
    )
    with _serving(reply) as (server, backend):
        result = backend.generate(request)
    assert [s.text for s in result.samples] == [f"C{seed}<MoleculeE>" for seed in (7, 8, 9, 10)]
    assert sorted(payload["seed"] for _p, _t, payload in server.completions()) == [7, 8, 9, 10]  # type: ignore[type-var]
    assert not barrier.broken
