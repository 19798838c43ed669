"""A small real HTTP forward proxy for tests: it forwards what a client sends it and marks each
request it passed on with its own name, so the upstream's record shows which proxy carried what."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "host"}
VIA = "x-test-proxy"


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_ProxyServer"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers[VIA] = self.server.name
        self.server.passed.append(self.path)  # absolute-form: http://host:port/path?query
        reply = httpx.request(self.command, self.path, headers=headers, content=body, timeout=30)
        self.send_response(reply.status_code)
        for name, value in reply.headers.items():
            if name.lower() not in HOP_BY_HOP | {"content-length", "content-encoding"}:
                self.send_header(name, value)
        self.send_header("content-length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.name = name
        self.passed: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def forward_proxy(name: str) -> Iterator[_ProxyServer]:
    """A proxy on a free port, in a thread, for the duration of the block."""
    server = _ProxyServer(name)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
