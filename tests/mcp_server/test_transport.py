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
from logos_tools.mcp_server.transport import MAX_BODY_BYTES, check_binding, is_loopback, security_settings
from logos_tools.toolkit import TOOL_NAMES
from tests.mcp_server.support import HttpServer, call_every_tool, http_server, text_of

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
)
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
    settings = security_settings("10.0.0.5", ["lab-server.example", "fd00::7"])
    assert settings.enable_dns_rebinding_protection
    assert settings.allowed_hosts == [
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        "10.0.0.5:*",
        "lab-server.example:*",
        "[fd00::7]:*",
    ]
    assert "https://lab-server.example:*" in settings.allowed_origins
    assert security_settings("0.0.0.0").allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]


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


def test_a_foreign_host_header_is_rejected(server: HttpServer) -> None:
    port = server.url.split(":")[2].split("/")[0]
    response = httpx.post(
        server.url, content=INITIALIZE, headers={**JSON_HEADERS, "Host": f"evil.example:{port}"}
    )
    assert response.status_code == 421


def test_a_foreign_origin_is_rejected(server: HttpServer) -> None:
    response = httpx.post(
        server.url, content=INITIALIZE, headers={**JSON_HEADERS, "Origin": "http://evil.example"}
    )
    assert response.status_code == 403


def test_an_oversize_request_body_is_rejected(server: HttpServer) -> None:
    response = httpx.post(server.url, content=b" " * (MAX_BODY_BYTES + 1), headers=JSON_HEADERS)
    assert response.status_code == 413


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
