"""The gateway's stop, as the requests in flight see it.

On SIGTERM uvicorn stops accepting connections and waits for those open to finish; ``Drain``
makes /readyz answer 503 at once and, when ``GATEWAY_SHUTDOWN_GRACE_SECONDS`` have passed, cancels
every request and stream still running with a message of its own. Each of them catches that
cancellation and ends with an error in its caller's dialect (a 503, or an error event on a stream
that already began), so nothing is cut silently and each is logged as failed. uvicorn's own
graceful-shutdown timeout is the grace plus ``BACKSTOP`` seconds: it only ends what ignored us.

Requests register their task in a set: one add and one discard each, nothing per chunk.
"""

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

STOP = "gempool: the gateway's shutdown grace is over"
BACKSTOP = 2.0  # seconds uvicorn waits beyond the grace before it cancels what is left itself
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def is_stop(exc: asyncio.CancelledError) -> bool:
    """True for the cancellation ``Drain`` sends when the grace is over (not a client leaving)."""
    return bool(exc.args) and exc.args[0] == STOP


class Drain:
    def __init__(self, grace: float, registry: CollectorRegistry | None = None) -> None:
        self.grace = grace
        self.stopping = False  # SIGTERM seen: not ready any more
        self.expired = False  # grace over: what still runs is ended with an error
        self.tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.ended = Counter(
            "gempool_gateway_shutdown_ended",
            "Requests still running when the shutdown grace ran out, ended with an error",
            ["kind"],
            registry=registry,
        )

    def track(self) -> "asyncio.Task[Any] | None":
        """Register the running task until ``untrack``; the grace's end cancels it with ``STOP``."""
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        return task

    def untrack(self, task: "asyncio.Task[Any] | None") -> None:
        if task is not None:
            self.tasks.discard(task)

    def begin(self) -> None:
        """Stop being ready now; end what still runs once the grace is over."""
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping", extra={"grace_seconds": self.grace, "in_flight": len(self.tasks)})
        self._timer = asyncio.get_running_loop().call_later(self.grace, self.expire)

    def expire(self) -> None:
        self.expired = True
        if self.tasks:
            log.warning("shutdown grace over; ending requests in flight", extra={"requests": len(self.tasks)})
        for task in list(self.tasks):
            task.cancel(STOP)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def on_signals(self) -> Callable[[], None]:
        """Begin on SIGTERM/SIGINT, after whatever handled them before (uvicorn's own handler, which
        stops the server); returns the function that puts the previous handlers back."""
        loop = asyncio.get_running_loop()
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.begin)
            before = previous.get(signal.Signals(signum))
            if callable(before):
                before(signum, frame)

        for sig in SIGNALS:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, before in previous.items():
                signal.signal(sig, before)

        return restore
