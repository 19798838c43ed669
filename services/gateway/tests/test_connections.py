"""Idle, slow and oversized clients against a real uvicorn server (port 0) and raw sockets.

ASGI test clients never open a connection, so only a real server shows when one is closed.
"""

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.importer import import_from_string

from gempool.gateway import __main__ as gateway_main
from gempool.gateway.app import create_app
from gempool.gateway.connections import PROTOCOL_PATH, ConnectionLimits, GuardedProtocol
from gempool.gateway.settings import GatewaySettings

from .serving import serving as serve_in_thread

LIMITS = ConnectionLimits(head_timeout=0.5, body_timeout=0.8, max_head_bytes=4096)
KEEP_ALIVE = 1


@contextlib.contextmanager
def serving(app: ASGIApp, limits: ConnectionLimits = LIMITS) -> Iterator[int]:
    with serve_in_thread(
        app, http=GuardedProtocol.with_limits(limits), timeout_keep_alive=KEEP_ALIVE
    ) as port:
        yield port


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers its length."""
    assert scope["type"] == "http"
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(str(size)))],
        }
    )
    await send({"type": "http.response.body", "body": str(size).encode()})


@contextlib.contextmanager
def connect(port: int) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        yield sock


def closed_after(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closes the connection, and what it sent before."""
    start, received = time.monotonic(), b""
    while chunk := _recv(sock):
        received += chunk
    return time.monotonic() - start, received


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body (by its content-length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout() -> None:
    with serving(echo_length) as port, connect(port) as sock:
        waited, received = closed_after(sock)
    assert received == b"" and LIMITS.head_timeout - 0.1 < waited < LIMITS.head_timeout + 1.5


def test_headers_trickled_slowly_are_cut_off_within_the_head_timeout() -> None:
    with serving(echo_length) as port, connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")
        start = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(20):  # one header every 0.2 s: each byte is in time, the head is not
                time.sleep(0.2)
                sock.sendall(b"x-slow: 1\r\n")
        waited = time.monotonic() - start
        assert _recv(sock) == b""
    assert waited < LIMITS.head_timeout + 1.5


def test_a_client_that_sends_headers_then_nothing_is_closed_after_the_body_timeout() -> None:
    with serving(echo_length) as port, connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789")
        waited, received = closed_after(sock)
    assert received == b"" and LIMITS.body_timeout - 0.1 < waited < LIMITS.body_timeout + 1.5


def test_a_body_that_arrives_in_time_is_answered_and_the_idle_connection_closed_after_keep_alive() -> None:
    with serving(echo_length) as port, connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n01234")
        time.sleep(0.3)
        sock.sendall(b"56789")
        waited, received = closed_after(sock)
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"\r\n\r\n10")
    assert KEEP_ALIVE - 0.1 < waited < KEEP_ALIVE + 1.5


def test_an_oversized_head_is_refused_with_431() -> None:
    with serving(echo_length) as port, connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 5000 + b"\r\n\r\n")
        _, received = closed_after(sock)
    assert received.startswith(b"HTTP/1.1 431 ")
    with serving(echo_length) as port, connect(port) as sock:  # just under the limit is served
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 3000 + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent() -> None:
    """An unauthenticated import announcing 200 MiB gets its 413 without sending a byte of it."""
    settings = GatewaySettings(
        CONFIG_ADDR="127.0.0.1:1", KEYPOOL_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1", LOG_SPOOL_DIR=""
    )
    with serving(create_app(settings)) as port, connect(port) as sock:
        sock.sendall(
            b"POST /api/admin/import HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % (200 * 1024 * 1024)
        )
        head, body = read_response(sock)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert "larger than" in orjson.loads(body)["detail"]


def test_the_server_is_started_with_the_settings_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m gempool.gateway`` hands uvicorn the guarded protocol and the keep-alive setting,
    with one process and with several workers (which import the protocol by its path)."""
    started: list[dict[str, Any]] = []

    class Supervisor:
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            started.append({"http": config.http, "timeout_keep_alive": config.timeout_keep_alive})
            for sock in sockets:
                sock.close()

        def run(self) -> None:
            pass

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    monkeypatch.setattr(gateway_main, "Supervisor", Supervisor)
    monkeypatch.setattr(gateway_main, "create_app", lambda *args, **kwargs: None)
    monkeypatch.setattr(gateway_main, "setup_logging", lambda *args: None)
    monkeypatch.setattr(gateway_main, "prepare_workers_dir", lambda: None)
    limits = {"HTTP_HEAD_TIMEOUT": "3", "HTTP_BODY_TIMEOUT": "7", "MAX_HEADER_BYTES": "2048"}
    for name, value in {**limits, "HTTP_KEEP_ALIVE_TIMEOUT": "9", "HOST": "127.0.0.1", "PORT": "0"}.items():
        monkeypatch.setenv(name, value)
    gateway_main.main()
    monkeypatch.setenv("GATEWAY_WORKERS", "2")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    gateway_main.main()
    one, many = started
    protocol = one["http"]
    assert issubclass(protocol, GuardedProtocol) and protocol.limits == ConnectionLimits(3.0, 7.0, 2048)
    assert one["timeout_keep_alive"] == 9 and many["timeout_keep_alive"] == 9
    assert many["http"] == PROTOCOL_PATH and import_from_string(PROTOCOL_PATH) is GuardedProtocol
