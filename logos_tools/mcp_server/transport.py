"""Serving the MCP server: stdio, or streamable HTTP with the protections a network listener needs.

HTTP rules:
- binds 127.0.0.1 unless told otherwise; binding any other address requires a bearer token, and every
  request must then carry ``Authorization: Bearer <token>`` (401 otherwise);
- Host and Origin headers are checked against the loopback names plus the bound host and any
  ``--allow-host`` names (DNS-rebinding protection: 421 for a foreign Host, 403 for a foreign Origin);
- request bodies over ``MAX_BODY_BYTES`` are refused with 413 before they are parsed.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from logos_tools.errors import InputError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token.

    Raises:
        InputError: ``host`` is not a loopback address and no token is set.
    """
    if not is_loopback(host) and not token:
        raise InputError(
            f"Binding the MCP server to {host!r} exposes it beyond this machine, so it needs a bearer token. "
            "Pass --token (or set LOGOS_MCP_TOKEN) to a long random string, or bind 127.0.0.1."
        )


def _host_pattern(name: str) -> str:
    bare = name.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def security_settings(host: str, allowed_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection: the Host and Origin values this server answers."""
    names = list(LOOPBACK_NAMES)
    if host not in _WILDCARDS and host not in names:
        names.append(host)
    names += [name for name in allowed_hosts if name not in names]
    patterns = [_host_pattern(name) for name in names]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{p}:*" for p in patterns],
        allowed_origins=[f"{scheme}://{p}:*" for p in patterns for scheme in ("http", "https")],
    )


class BearerTokenMiddleware:
    """Refuse every HTTP request that lacks ``Authorization: Bearer <token>`` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = b'{"error": "unauthorized", "error_description": "Send Authorization: Bearer <token>."}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="logos-mcp"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def http_app(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ASGIApp:
    """The streamable-HTTP ASGI app at ``/mcp`` with host checks, body limit and (if set) the token.

    Raises:
        InputError: a non-loopback ``host`` without a token.
    """
    check_binding(host, token)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        max_request_body_size=max_body_bytes,
        transport_security=security_settings(host, allowed_hosts),
        host=host,
    )
    return BearerTokenMiddleware(app, token) if token else app


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0 picks a free port), so the URL can be logged before serving.

    Raises:
        InputError: the address cannot be bound (in use, or not an address of this machine).
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another --port or --host."
        ) from None
    sock.listen(128)
    return sock


def serve_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "info",
) -> None:
    """Serve streamable HTTP until interrupted; logs ``MCP endpoint: http://HOST:PORT/mcp`` once listening.

    Raises:
        InputError: a non-loopback host without a token, or an address that cannot be bound.
    """
    import uvicorn

    app = http_app(server, host=host, token=token, allowed_hosts=allowed_hosts)
    if host in _WILDCARDS and not allowed_hosts:
        logger.warning(
            "Listening on every interface, but only loopback Host headers are accepted: add --allow-host NAME "
            "for each name or address clients use to reach this machine."
        )
    sock = listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    logger.info("MCP endpoint: http://%s:%d%s", shown, bound_port, MCP_PATH)
    # log_config=None: uvicorn's own config sends access logs to stdout; ours go to stderr.
    config = uvicorn.Config(app, log_config=None, log_level=log_level.lower(), timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
