"""What the MCP tests share: small demo-model arguments for every tool, and the result checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import jsonschema  # type: ignore[import-untyped]
from mcp import Client
from mcp.types import CallToolResult, TextContent

from logos_tools.shipped import grammar_dir

STRUCTURES = (grammar_dir() / "fixtures" / "structures").resolve()
HIV_PROTEASE = str(STRUCTURES / "1hvr.pdb")
LOGOS_MCP = str(Path(sys.executable).with_name("logos-mcp"))
ENDPOINT = re.compile(r"MCP endpoint: (http://\S+/mcp)")


@dataclass(frozen=True)
class ToolCall:
    """Arguments for one quick call on the demo model, and words its text block must hold."""

    arguments: dict[str, Any]
    text_holds: tuple[str, ...]


# Small requests: every tool, a few samples each, so a whole transport test stays within seconds.
TOOL_CALLS: dict[str, ToolCall] = {
    "retrosynthesis": ToolCall(
        {"product": "CC(=O)Oc1ccccc1C(=O)O", "num_samples": 4, "seed": 1}, ("Product CC(=O)Oc1ccccc1C(=O)O",)
    ),
    "predict_reaction": ToolCall(
        {"reactants": ["CC(=O)O", "OCC"], "num_samples": 4, "seed": 1}, ("Reactants CC(=O)O . CCO",)
    ),
    "find_binding_sites": ToolCall(
        {"structure_path": HIV_PROTEASE, "chain": "A", "num_samples": 2, "seed": 1},
        ("Protein of 99 residues", "1hvr.pdb chain A"),
    ),
    "design_ligands": ToolCall(
        {"structure_path": HIV_PROTEASE, "ligand": "XK2", "num_molecules": 2, "max_samples": 4, "seed": 1},
        ("Pocket from ligand", "XK2"),
    ),
    "generate_molecules": ToolCall(
        {"num_molecules": 3, "max_samples": 8, "seed": 1}, ("distinct molecules pass the filters",)
    ),
    "generate_mofs": ToolCall({"num_materials": 2, "max_samples": 4, "seed": 1}, ("distinct valid",)),
    "score_protein_variants": ToolCall(
        {"wild_type": "MKTAYIAKQRQISFVKSHFSRQ", "mutations": ["A4G", "K2R:Q9E"]}, ("A4G", "K2R:Q9E")
    ),
    "complete_sequence": ToolCall(
        {"prefix": "MKTAY", "num_samples": 2, "max_new_tokens": 24, "seed": 1}, ("prefix of 5 residues",)
    ),
    "score_objects": ToolCall(
        {
            "objects": [
                {"kind": "molecule", "value": "CCO"},
                {"kind": "protein", "value": "MKTAYIAKQR"},
                {"kind": "material", "value": {"node": "[Zn]", "linkers": ["OC(=O)c1ccc(C(=O)O)cc1"]}},
            ]
        },
        ("3 objects scored", "CCO"),
    ),
    "complete_grammar": ToolCall(
        {
            "prompt": "<MoleculeS>CC",
            "num_samples": 2,
            "max_new_tokens": 24,
            "stop": ["<MoleculeE>"],
            "seed": 1,
        },
        ("Prompt '<MoleculeS>CC'",),
    ),
    "list_models": ToolCall({}, ("Active model: demo", "LOGOS-pretrain-1B")),
}
# get_job needs a running job: the tests make one with a call that outgrows a 1 s budget.
# (500 filtered molecules take the demo model well over a second even on a quiet machine.)
OUTGROWS_ONE_SECOND = {
    "num_molecules": 500,
    "max_samples": 5000,
    "min_qed": 0.9,
    "seed": 3,
    "time_budget_s": 1,
}


# The raw JSON-RPC handshake, for tests that speak to a server without the SDK's client.
INITIALIZE_REQUEST: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
INITIALIZED_NOTIFICATION: dict[str, Any] = {"jsonrpc": "2.0", "method": "notifications/initialized"}


async def cancel_a_long_generation(client: Client) -> tuple[CallToolResult, float]:
    """Start a generation that would run for minutes, cancel it once it reports progress, then call
    another tool: that call's result and how long it waited for the model after the cancel."""
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async with anyio.create_task_group() as group:

        async def huge_request() -> None:
            arguments = {"num_molecules": 200, "max_samples": 5000, "time_budget_s": 600}
            await client.call_tool("generate_molecules", arguments, progress_callback=on_progress)

        group.start_soon(huge_request)
        await started.wait()
        group.cancel_scope.cancel()
    cancelled_at = time.monotonic()
    # The model lock is free again only once the cancelled generation has stopped.
    follow_up = await client.call_tool("score_objects", {"objects": [{"kind": "molecule", "value": "CCO"}]})
    return follow_up, time.monotonic() - cancelled_at


def text_of(result: CallToolResult) -> str:
    """The first content block's text (every tool result starts with its text rendering)."""
    block = result.content[0]
    assert isinstance(block, TextContent), f"the first content block is {block.type}, not text"
    return block.text


def check_result(
    name: str, result: CallToolResult, output_schema: Mapping[str, Any], full_schema: Mapping[str, Any]
) -> None:
    """A successful tool result: schema-valid structured content and a text block that stands alone."""
    assert not result.is_error, f"{name} failed: {text_of(result)}"
    data = result.structured_content
    assert isinstance(data, dict), f"{name} returned no structured content"
    jsonschema.Draft202012Validator(dict(output_schema)).validate(data)
    jsonschema.Draft202012Validator(dict(full_schema)).validate(data)
    text = text_of(result)
    if "result_id" in data and data["result_id"] is not None:
        assert data["result_id"] in text, f"{name}: the text does not name the result id"
        assert f"logos://results/{data['result_id']}" in text
    if isinstance(data.get("model"), dict):
        assert f"Model: {data['model']['name']}" in text
        if data["model"]["is_demo"]:
            assert "DEMO MODEL" in text, f"{name}: the text hides that the demo model produced it"
    if isinstance(data.get("run"), dict) and data["run"]["partial"]:
        assert "PARTIAL" in text
    if data.get("molecules"):  # valid molecules by construction: the grid must show them
        assert any(block.type == "image" for block in result.content), f"{name}: molecules but no picture"
    for words in TOOL_CALLS[name].text_holds if name in TOOL_CALLS else ():
        assert words in text, f"{name}: {words!r} missing from the text block:\n{text}"


async def full_schema_of(client: Client, tool: str) -> dict[str, Any]:
    """The complete result schema the server publishes as a resource."""
    read = await client.read_resource(f"logos://schemas/{tool}")
    content = read.contents[0]
    assert hasattr(content, "text")
    schema: dict[str, Any] = json.loads(content.text)
    return schema


async def call_every_tool(client: Client) -> list[str]:
    """Call each tool of TOOL_CALLS and get_job (on a job made to outgrow 1 s); check each result.

    Returns the tool names called, so a test can compare them with tools/list.
    """
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    called = []
    for name, call in TOOL_CALLS.items():
        result = await client.call_tool(name, call.arguments)
        check_result(name, result, listed[name].output_schema or {}, await full_schema_of(client, name))
        called.append(name)
    partial = await client.call_tool("generate_molecules", OUTGROWS_ONE_SECOND)
    assert not partial.is_error, text_of(partial)
    assert partial.structured_content is not None
    job_id = partial.structured_content["job_id"]
    assert job_id, "500 molecules with QED >= 0.9 were found within 1 s: raise OUTGROWS_ONE_SECOND"
    job_schema = await full_schema_of(client, "get_job")
    for arguments in ({"job_id": job_id}, {"job_id": job_id, "cancel": True}):
        status = await client.call_tool("get_job", arguments)
        check_result("get_job", status, listed["get_job"].output_schema or {}, job_schema)
        assert f"Job {job_id} (generate_molecules)" in text_of(status)
    called.append("get_job")
    return called


def server_environment(home: Path) -> dict[str, str]:
    """The environment of a server subprocess: its own LOGOS_HOME, structure fixtures readable.

    One llama.cpp thread: the demo model gains nothing from two, and two threads spin against each
    other on a busy 2-core CI machine (measured 10x slower decoding under load).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGOS_")}
    env.update({"LOGOS_HOME": str(home), "LOGOS_ALLOWED_ROOTS": str(STRUCTURES), "LOGOS_THREADS": "1"})
    return env


@dataclass
class HttpServer:
    """A running ``logos-mcp --transport http`` subprocess; ``log`` collects its stderr lines."""

    process: subprocess.Popen[str]
    url: str
    log: list[str]
    stdout: str = ""


@contextmanager
def http_server(home: Path, *extra: str) -> Iterator[HttpServer]:
    """Start ``logos-mcp --transport http --port 0``, yield it once it listens, stop it afterwards.

    A thread drains stderr (a full pipe would block the server) and signals the endpoint line.
    """
    process = subprocess.Popen(
        [LOGOS_MCP, "--transport", "http", "--port", "0", *extra],
        env=server_environment(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    found: list[str] = []
    listening = threading.Event()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            match = ENDPOINT.search(line)
            if match and not found:
                found.append(match.group(1))
                listening.set()
        listening.set()  # the process ended

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    listening.wait(timeout=120)
    server = HttpServer(process, found[0] if found else "", log)
    try:
        assert server.url, "logos-mcp did not start listening:\n" + "".join(log)
        yield server
    finally:
        process.terminate()
        assert process.stdout is not None
        assert process.stderr is not None
        server.stdout = process.stdout.read()
        process.wait(timeout=30)
        reader.join(timeout=30)
        process.stdout.close()
        process.stderr.close()


@contextmanager
def serving_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yield its /mcp URL.

    The socket listens before the thread starts, so a client may connect at once (uvicorn accepts the
    queued connection once its startup is done): nothing to wait for.
    """
    import uvicorn

    from logos_tools.mcp_server.transport import MCP_PATH, listening_socket

    sock = listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{MCP_PATH}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
