"""Streamable HTTP: a real ``logos-mcp --transport http`` process driven by the SDK's own client, and
its protections (loopback by default, bearer token beyond it, Host/Origin checks, body size limit)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from logos_tools.errors import InputError
from logos_tools.mcp_server.transport import (
    MAX_BODY_BYTES,
    allowed_names,
    check_binding,
    host_name,
    is_loopback,
)
from logos_tools.toolkit import TOOL_NAMES
from tests.mcp_server.support import INITIALIZE_REQUEST, HttpServer, call_every_tool, http_server, text_of

INITIALIZE = json.dumps(INITIALIZE_REQUEST)
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with http_server(tmp_path_factory.mktemp("logos-http")) as running:
        yield running


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_token() -> None:
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", "a-long-random-token")
    with pytest.raises(InputError, match=r"Binding the MCP server to '0.0.0.0' .* Pass --token"):
        check_binding("0.0.0.0", None)


def test_host_and_origin_checks_allow_loopback_the_bound_host_and_named_hosts_only() -> None:
    assert allowed_names("10.0.0.5", ["Lab-Server.example", "[fd00::7]"]) == [
        "127.0.0.1",
        "localhost",
        "::1",
        "10.0.0.5",
        "lab-server.example",
        "fd00::7",
    ]
    assert allowed_names("0.0.0.0") == ["127.0.0.1", "localhost", "::1"]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LOCALHOST:8765", "localhost"),
        ("[::1]:8765", "::1"),
        ("[::1]", "::1"),
        ("lab.example:443", "lab.example"),
        ("localhost.evil.example", "localhost.evil.example"),
        ("", ""),
    ],
)
def test_a_host_header_is_compared_by_its_name_without_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.anyio
async def test_every_tool_over_streamable_http_returns_valid_structured_content_and_text(
    server: HttpServer, demo_path: Path
) -> None:
    async with Client(server.url) as client:
        called = await call_every_tool(client)
    assert sorted(called) == sorted(TOOL_NAMES)


@pytest.mark.anyio
async def test_bad_input_over_http_is_an_error_result_and_the_server_keeps_serving(
    server: HttpServer, demo_path: Path
) -> None:
    async with Client(server.url) as client:
        bad = await client.call_tool("predict_reaction", {"reactants": ["C1CC"]})
        good = await client.call_tool("list_models", {})
    assert bad.is_error
    assert "unclosed ring" in text_of(bad)
    assert not good.is_error


def _port(server: HttpServer) -> str:
    return server.url.split(":")[2].split("/")[0]


def _message(response: httpx.Response) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_a_foreign_host_header_is_rejected_naming_it_and_the_fix(server: HttpServer) -> None:
    for host in (f"evil.example:{_port(server)}", "localhost.evil.example"):
        response = httpx.post(server.url, content=INITIALIZE, headers={**JSON_HEADERS, "Host": host})
        assert response.status_code == 421
        assert f"Host {host!r} is not a name this server answers to" in _message(response)
        assert f"--allow-host {host.split(':')[0]}" in _message(response)


def test_a_foreign_origin_is_rejected_naming_it(server: HttpServer) -> None:
    for origin in ("http://evil.example", "null", "http://localhost.evil.example:80", "file://localhost"):
        response = httpx.post(server.url, content=INITIALIZE, headers={**JSON_HEADERS, "Origin": origin})
        assert response.status_code == 403
        assert f"Origin {origin!r} may not call this server" in _message(response)


def test_localhost_variants_are_accepted_with_or_without_a_port(server: HttpServer) -> None:
    port = _port(server)
    variants = [
        {"Host": "localhost"},
        {"Host": f"LOCALHOST:{port}"},
        {"Host": f"[::1]:{port}"},
        {"Host": f"127.0.0.1:{port}", "Origin": "http://localhost"},
        {"Host": f"localhost:{port}", "Origin": "https://127.0.0.1:3000"},
    ]
    for extra in variants:
        response = httpx.post(server.url, content=INITIALIZE, headers={**JSON_HEADERS, **extra})
        assert response.status_code == 200, (extra, response.text)


def test_an_allowed_host_is_accepted_behind_a_proxy_on_a_default_port(tmp_path: Path) -> None:
    with http_server(tmp_path, "--allow-host", "lab.example") as running:
        answers = [
            httpx.post(running.url, content=INITIALIZE, headers={**JSON_HEADERS, **extra}).status_code
            for extra in (
                {"Host": "lab.example"},
                {"Host": "lab.example:443", "Origin": "https://lab.example"},
                {"Host": "other.example"},
            )
        ]
    assert answers == [200, 200, 421]


@pytest.mark.anyio
async def test_an_oversize_request_body_is_refused_with_the_limit_and_the_server_keeps_serving(
    server: HttpServer,
) -> None:
    body = b" " * (3 * 1024 * 1024)
    declared = httpx.post(server.url, content=body, headers=JSON_HEADERS)
    streamed = httpx.post(server.url, content=iter([body[:1024], body[1024:]]), headers=JSON_HEADERS)
    async with Client(server.url) as client:
        tools = (await client.list_tools()).tools
    for response in (declared, streamed):
        assert response.status_code == 413
        assert f"over this server's limit of {MAX_BODY_BYTES} bytes (2 MiB)" in _message(response)
    assert "chunked" in streamed.request.headers.get("transfer-encoding", "")
    assert len(tools) == len(TOOL_NAMES)


def test_a_post_that_is_not_json_is_refused_with_415(server: HttpServer) -> None:
    response = httpx.post(
        server.url, content=INITIALIZE, headers={**JSON_HEADERS, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert _message(response) == (
        "Content-Type 'text/plain' is not accepted: send Content-Type: application/json."
    )


def test_malformed_json_and_requests_without_a_session_are_json_rpc_errors(server: HttpServer) -> None:
    malformed = httpx.post(server.url, content=b"{bad", headers=JSON_HEADERS)
    get = httpx.get(server.url, headers={"Accept": "text/event-stream"})
    delete = httpx.delete(server.url)
    assert (malformed.status_code, get.status_code, delete.status_code) == (400, 400, 400)
    assert malformed.json()["error"]["code"] == -32700
    assert "Missing session ID" in get.json()["error"]["message"]
    assert "Missing session ID" in delete.json()["error"]["message"]


@pytest.mark.anyio
async def test_a_token_protected_server_refuses_requests_without_the_token(tmp_path: Path) -> None:
    token = "s3cret-token-for-tests"
    with http_server(tmp_path, "--token", token) as protected:
        missing = httpx.post(protected.url, content=INITIALIZE, headers=JSON_HEADERS)
        wrong = httpx.post(
            protected.url, content=INITIALIZE, headers={**JSON_HEADERS, "Authorization": "Bearer nope"}
        )
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(protected.url, http_client=http)) as client,
        ):
            tools = (await client.list_tools()).tools
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == 'Bearer realm="logos-mcp"'
    assert len(tools) == len(TOOL_NAMES)


@pytest.mark.anyio
async def test_the_http_server_logs_to_stderr_and_writes_nothing_to_stdout(tmp_path: Path) -> None:
    with http_server(tmp_path) as running:
        async with Client(running.url) as client:
            await client.list_tools()
    assert running.stdout == ""
    assert any("MCP endpoint: http://127.0.0.1:" in line for line in running.log)
