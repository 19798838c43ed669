"""Serve the fake in a background thread of the current process (tests, benchmarks)."""

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from gempool.fakegemini.app import FakeGemini, create_app


@dataclass
class Running:
    url: str
    fake: FakeGemini


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the thread must leave signals to the main thread
        pass


@contextmanager
def serve_in_thread(
    host: str = "127.0.0.1", port: int = 0, fake: FakeGemini | None = None
) -> Iterator[Running]:
    """Serve ``fake`` (a new one by default): leaving the block stops it, so a test may stop the
    upstream and serve the same fake again on the same port."""
    fake = fake or FakeGemini()
    config = uvicorn.Config(create_app(fake), host=host, port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake Gemini upstream did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(url=f"http://{host}:{bound}", fake=fake)
    finally:
        server.should_exit = True
        thread.join(10)
