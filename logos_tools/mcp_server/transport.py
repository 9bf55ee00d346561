"""Serving the MCP server: stdio, or streamable HTTP with the protections a network listener needs.

HTTP rules (``RequestGuard``, in this order, each refusal a JSON body whose message names the bad
value and the fix):
- binds 127.0.0.1 unless told otherwise; binding any other address requires a bearer token, and every
  request must then carry ``Authorization: Bearer <token>`` (401 otherwise);
- Host and Origin headers must name the loopback names, the bound host or an ``--allow-host`` name,
  with or without a port (DNS-rebinding protection: 421 for a foreign Host, 403 for a foreign Origin);
- request bodies over ``MAX_BODY_BYTES`` are refused with 413 before they are parsed;
- a POST must send ``Content-Type: application/json`` (415 otherwise).

Both transports stop cleanly on SIGINT or SIGTERM: exit status 0, no traceback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Generator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import anyio
from anyio.abc import TaskStatus
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logos_tools.errors import InputError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WILDCARDS = ("0.0.0.0", "::", "")
_INVALID_REQUEST = -32600


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


def allowed_names(host: str, allowed_hosts: Sequence[str] = ()) -> list[str]:
    """The host names (lower case, IPv6 without brackets) that Host and Origin headers may carry."""
    names = list(LOOPBACK_NAMES)
    for name in (host, *allowed_hosts):
        bare = name.strip("[]").lower()
        if bare not in _WILDCARDS and bare not in names:
            names.append(bare)
    return names


def host_name(value: str) -> str:
    """The name in a Host header value without its port: ``[::1]:8765`` -> ``::1``, ``A.b:80`` -> ``a.b``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") > 1:  # a bare IPv6 address (not valid in a Host header, but unambiguous)
        return value
    return value.partition(":")[0]


def security_settings() -> TransportSecuritySettings:
    """The SDK's DNS-rebinding settings: off, because ``RequestGuard`` checks Host and Origin first.

    The SDK's own check refuses a Host or Origin without a port (``localhost``, ``http://localhost``,
    a name behind a reverse proxy on port 443) and answers with a bare "Invalid Host header".
    """
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def _error_body(message: str) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": _INVALID_REQUEST, "message": message}}
    ).encode()


async def _refuse(
    send: Send, status: int, body: bytes, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra_headers]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Checks every HTTP request before the MCP app sees it: token, Host, Origin, body size, content type.

    The token comes first so that a client without it learns nothing else and cannot make the server
    buffer a body. Bodies are read here up to the limit and replayed to the app.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        names: Sequence[str],
        token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.names = [name.lower() for name in names]
        self.max_body_bytes = max_body_bytes
        self._expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope.get("headers") or []}
        if self._expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self._expected
        ):
            logger.warning("Refused a request from %s: no valid bearer token.", _client(scope))
            body = b'{"error": "unauthorized", "error_description": "Send Authorization: Bearer <token>."}'
            await _refuse(send, 401, body, [(b"www-authenticate", b'Bearer realm="logos-mcp"')])
            return
        refusal = self._header_refusal(headers, scope.get("method", ""))
        if refusal is not None:
            status, message = refusal
            logger.warning("Refused a request from %s (%d): %s", _client(scope), status, message)
            await _refuse(send, status, _error_body(message))
            return
        replay = await self._read_body(headers, receive)
        if replay is None:
            message = (
                f"Request body over this server's limit of {self.max_body_bytes} bytes "
                f"({self.max_body_bytes / 2**20:g} MiB). Send smaller arguments: fewer objects per call, "
                "or a structure file path instead of its contents."
            )
            logger.warning(
                "Refused a request from %s (413): body over %d bytes.", _client(scope), self.max_body_bytes
            )
            await _refuse(send, 413, _error_body(message), [(b"connection", b"close")])
            return
        await self.app(scope, replay, send)

    def _header_refusal(self, headers: dict[bytes, bytes], method: str) -> tuple[int, str] | None:
        allowed = ", ".join(self.names)
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.names:
            return 421, (
                f"Host {host!r} is not a name this server answers to (DNS-rebinding protection); "
                f"it answers to {allowed}. Connect by one of those, or start logos-mcp with "
                f"--allow-host {host_name(host) or 'NAME'}."
            )
        origin = headers.get(b"origin")
        if origin is not None:
            shown = origin.decode("latin-1")
            try:
                parts = urlsplit(shown)
                origin_host = (parts.hostname or "").lower()
                origin_ok = parts.scheme in ("http", "https") and origin_host in self.names
                _ = parts.port  # a malformed port is a foreign origin, not a crash
            except ValueError:
                origin_ok = False
            if not origin_ok:
                return 403, (
                    f"Origin {shown!r} may not call this server (DNS-rebinding protection); allowed are "
                    f"http(s) pages on {allowed}. Start logos-mcp with --allow-host NAME to admit another."
                )
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if method == "POST" and not content_type.strip().lower().startswith("application/json"):
            return 415, f"Content-Type {content_type!r} is not accepted: send Content-Type: application/json."
        return None

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> Receive | None:
        """A ``receive`` replaying the whole body, or None when the body is over the limit."""
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        pending: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending.insert(0, {"type": "http.request", "body": b"".join(chunks), "more_body": False})

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        return replay


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "an unknown client"


def http_app(
    server: MCPServer[Any],
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ASGIApp:
    """The streamable-HTTP ASGI app at ``/mcp`` behind ``RequestGuard`` (token if set, Host, Origin, size).

    Raises:
        InputError: a non-loopback ``host`` without a token.
    """
    check_binding(host, token)
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        max_request_body_size=max_body_bytes,
        transport_security=security_settings(),
        host=host,
    )
    return RequestGuard(
        app, names=allowed_names(host, allowed_hosts), token=token, max_body_bytes=max_body_bytes
    )


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


def _uvicorn_server(config: Any) -> Any:
    """A uvicorn server that stops gracefully on SIGINT/SIGTERM and then returns.

    uvicorn re-raises the signal once it has shut down, so the process would end with
    "Aborted!" and status 1 (SIGINT) or be killed by SIGTERM (status 143) after a clean shutdown.
    """
    import uvicorn

    class QuietExitServer(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return QuietExitServer(config)


def serve_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "info",
) -> None:
    """Serve streamable HTTP until SIGINT/SIGTERM; logs ``MCP endpoint: http://HOST:PORT/mcp`` once listening.

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
    _uvicorn_server(config).run(sockets=[sock])
    logger.info("MCP server stopped.")


def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve stdio until stdin closes (then return) or SIGINT/SIGTERM arrives (then end the process, status 0).

    A signal ends the process through ``os._exit`` once the logs and stdout are flushed: the SDK reads
    stdin on a worker thread blocked in ``read`` that nothing can wake, so neither cancelling the
    server nor a normal interpreter exit would finish (SIGINT hung for good). Results are committed to
    the store as they are made, so nothing written is lost.
    """

    async def run() -> None:
        async with anyio.create_task_group() as group:

            async def exit_on_signal(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
                with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
                    task_status.started()  # serve only once a signal is sure to be caught
                    async for received in signals:
                        logger.info("MCP server stopped (%s).", signal.Signals(received).name)
                        logging.shutdown()
                        for stream in (sys.stdout, sys.stderr):
                            with suppress(OSError, ValueError):
                                stream.flush()
                        os._exit(0)

            await group.start(exit_on_signal)
            await server.run_stdio_async()
            group.cancel_scope.cancel()  # stdin closed: stop waiting for a signal

    anyio.run(run)
    logger.info("MCP server stopped (stdin closed).")
