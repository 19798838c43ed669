"""Stand-ins for remote image hosts: real HTTP servers on 127.0.0.1 that check requests the way
the real hosts document them, and a transport that sends a named host's traffic to them."""

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the thread leaves signals to the main thread
        pass


@contextmanager
def serve(app: ASGIApp) -> Iterator[int]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields the port."""
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("stand-in server did not start")
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


class ToStandIn(httpx.AsyncBaseTransport):
    """Sends every request to the stand-in on ``port`` as plain HTTP, keeping its Host header: what
    DNS and TLS would do for the real host name, so URLs and signatures stay the real ones."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.headers["host"])
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
