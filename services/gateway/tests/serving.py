"""Serve an ASGI app with a real uvicorn server on 127.0.0.1, port 0, in a background thread.

For what ASGI test clients cannot show: connections being closed, bytes trickling, a server stalling.
"""

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the thread leaves signals to the main thread
        pass


@contextlib.contextmanager
def serving(app: ASGIApp, **config: Any) -> Iterator[int]:
    """The port the app is served on; ``config`` goes to ``uvicorn.Config``."""
    options: dict[str, Any] = {"lifespan": "off", "log_level": "error", "timeout_graceful_shutdown": 1}
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=0, **(options | config)))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
