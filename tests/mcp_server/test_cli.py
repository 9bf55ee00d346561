"""``logos-mcp``: a real subprocess over stdio driven by the SDK's client, start-up time, refusals."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from mcp import Client, StdioServerParameters

from logos_tools.store.results import ResultStore
from logos_tools.toolkit import TOOL_NAMES
from tests.mcp_server.support import (
    INITIALIZE_REQUEST,
    INITIALIZED_NOTIFICATION,
    LOGOS_MCP,
    call_every_tool,
    cancel_a_long_generation,
    http_server,
    server_environment,
    text_of,
)

pytestmark = pytest.mark.anyio
HEAVY_AT_IMPORT = ("rdkit", "llama_cpp", "torch", "mcp", "pymatgen", "Bio")


def _stdio(home: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=LOGOS_MCP, args=list(args), env=server_environment(home))


def _stdio_server(home: Path, *args: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """``logos-mcp`` over stdio as a subprocess with its own LOGOS_HOME; pipes in text mode."""
    return subprocess.Popen(
        [LOGOS_MCP, *args],
        env=server_environment(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_logos_mcp_over_stdio_answers_tools_list_within_two_seconds_of_start(tmp_path: Path) -> None:
    # The server's CPU time is the measure: on a shared CI machine the wall clock also counts waiting
    # for a core. On an idle machine the two agree (start-up is single-threaded imports).
    handshake = [
        INITIALIZE_REQUEST,
        INITIALIZED_NOTIFICATION,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with _stdio_server(tmp_path) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("".join(json.dumps(message) + "\n" for message in handshake))
        process.stdin.flush()
        answers = [json.loads(process.stdout.readline()) for _ in range(2)]
        wall = time.perf_counter() - started
        process.stdin.close()  # end of input: the server exits
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert [tool["name"] for tool in answers[1]["result"]["tools"]] == list(TOOL_NAMES)
    assert cpu < 2.0, f"logos-mcp used {cpu:.2f} s of CPU to answer tools/list ({wall:.2f} s wall clock)"
    assert wall < 15, f"tools/list took {wall:.2f} s of wall clock"


async def test_every_tool_over_stdio_returns_valid_structured_content_and_text(
    tmp_path: Path, demo_path: Path
) -> None:
    async with Client(_stdio(tmp_path)) as client:
        called = await call_every_tool(client)
    assert sorted(called) == sorted(TOOL_NAMES)


async def test_bad_input_over_stdio_is_an_error_result_and_the_server_keeps_serving(
    tmp_path: Path, demo_path: Path
) -> None:
    async with Client(_stdio(tmp_path, "--no-images")) as client:
        bad = await client.call_tool("score_objects", {"objects": [{"kind": "molecule", "value": "C1CC"}]})
        outside = await client.call_tool("find_binding_sites", {"structure_path": "/etc/passwd"})
        good = await client.call_tool("list_models", {})
    assert bad.is_error
    assert "C1CC" in text_of(bad)
    assert outside.is_error
    assert "outside the folders this server may read" in text_of(outside)
    assert not good.is_error
    assert "Active model: demo" in text_of(good)


async def test_the_model_flag_chooses_the_model_the_tools_run(tmp_path: Path) -> None:
    async with Client(_stdio(tmp_path, "--model", "no-such-model")) as client:
        listed = await client.call_tool("list_models", {})
        failed = await client.call_tool("retrosynthesis", {"product": "CCO", "num_samples": 1})
    assert "Active model: no-such-model" in text_of(listed)
    assert failed.is_error
    assert "no-such-model" in text_of(failed)


async def test_a_cancel_from_the_client_stops_the_servers_generation(tmp_path: Path, demo_path: Path) -> None:
    async with Client(_stdio(tmp_path, "--no-images")) as client:
        follow_up, waited = await cancel_a_long_generation(client)
    assert not follow_up.is_error, text_of(follow_up)
    assert waited < 30, f"the cancelled generation kept the model for {waited:.0f} s"
    assert ResultStore(tmp_path / "results.sqlite3").list(tool="generate_molecules") == []


def test_stdout_carries_only_protocol_messages_even_while_the_model_loads(
    tmp_path: Path, demo_path: Path
) -> None:
    messages = [
        INITIALIZE_REQUEST,
        INITIALIZED_NOTIFICATION,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "retrosynthesis", "arguments": {"product": "CCO", "num_samples": 2}},
        },
    ]
    with _stdio_server(tmp_path, "--no-images") as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("".join(json.dumps(message) + "\n" for message in messages))
        process.stdin.flush()
        answers = []
        for line in process.stdout:  # every line must be one JSON-RPC message
            answers.append(json.loads(line))
            if answers[-1].get("id") == 2:
                break
        process.stdin.close()
    assert all(answer["jsonrpc"] == "2.0" for answer in answers)
    assert answers[-1]["result"]["structuredContent"]["product"] == "CCO"


def test_binding_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [LOGOS_MCP, "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env=server_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "needs a bearer token" in done.stderr
    assert done.stdout == ""


def test_importing_the_server_package_loads_no_heavy_library() -> None:
    code = f"import sys, logos_tools.mcp_server\nprint([m for m in {HEAVY_AT_IMPORT!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_the_server_loads_neither_llama_cpp_nor_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom logos_tools.mcp_server.server import build_server\nbuild_server()\n"
        "print([m for m in ('llama_cpp', 'torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=server_environment(tmp_path),
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--port", "70000"],
            "error: Invalid value for '--port': '70000' is not a port number: pass 0 to 65535",
        ),
        (["--port", "abc"], "error: Invalid value for '--port': 'abc' is not a port number: pass 0 to 65535"),
        (
            ["--transport", "sse"],
            "error: Invalid value for '--transport': 'sse' is not one of 'stdio', 'http'.",
        ),
        (["--bogus"], "error: No such option '--bogus'."),
    ],
)
def test_a_bad_option_is_refused_in_one_line_on_stderr(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [LOGOS_MCP, *args],
        env=server_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(message)
    assert done.stderr.rstrip().endswith("See logos-mcp --help.")


def test_the_help_explains_every_option(tmp_path: Path) -> None:
    from logos_tools.mcp_server.cli import serve

    done = subprocess.run(
        [LOGOS_MCP, "--help"],
        env=server_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: logos-mcp [OPTIONS]")
    undocumented = [
        param.name for param in serve.params if isinstance(param, click.Option) and not param.help
    ]
    assert undocumented == []


def _stopped(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    process.send_signal(sig)
    assert process.stderr is not None
    log = process.stderr.read()
    return process.wait(timeout=60), log


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_the_http_server_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    with http_server(tmp_path) as running:
        async with Client(running.url) as client:
            await client.list_tools()  # answered: the server is serving, its signal handlers are in place
        running.process.send_signal(sig)
        code = running.process.wait(timeout=60)
    log = "".join(running.log)
    assert code == 0, log
    assert "Traceback" not in log
    assert "Aborted" not in log
    assert "MCP server stopped." in log
    assert running.stdout == ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("busy", [False, True])
def test_the_stdio_server_stops_cleanly_on_a_signal_even_during_a_call(
    tmp_path: Path, demo_path: Path, sig: signal.Signals, busy: bool
) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {
            "name": "generate_molecules",
            "arguments": {"num_molecules": 500, "max_samples": 5000, "time_budget_s": 600},
            "_meta": {"progressToken": 7},
        },
    }
    with _stdio_server(tmp_path, "--no-images", stderr=subprocess.PIPE) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(INITIALIZE_REQUEST) + "\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1  # serving: the signal handler is in place
        if busy:
            process.stdin.write(json.dumps(INITIALIZED_NOTIFICATION) + "\n")
            process.stdin.write(json.dumps(call) + "\n")
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["method"] == "notifications/progress"
        code, log = _stopped(process, sig)
    assert code == 0, log
    assert "Traceback" not in log
    assert f"MCP server stopped ({sig.name})." in log
