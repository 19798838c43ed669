"""Watching the shared key store: say when it cannot serve, rebuild what it lost, by itself.

A Redis restart (or a flush) leaves the store empty: no rings, so no key to lease. Leases notice
it at once (the lease script answers "lost"), and this watch notices it within a second when no
lease comes; either way the pool rebuilds the rings from its key records. While Redis cannot be
reached the keypool says so: gRPC health NOT_SERVING, ``gempool_keypool_store_up`` 0 and one log
line per incident (not a traceback per request).
"""

import asyncio
import contextlib
import logging
import time

from grpc_health.v1 import health, health_pb2

from .metrics import Metrics
from .pool import KeyPool
from .store import UNREACHABLE

log = logging.getLogger(__name__)
CHECK_INTERVAL = 1.0
# Checks a failed request asks for are at least this far apart (a storm of failures is one check).
MIN_GAP = 0.1
# The health service name liveness probes ask: SERVING while the process runs, even while Redis is
# away (a restart would not bring it back); the overall status ("") is the readiness.
LIVENESS = "liveness"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class StoreUnavailable(Exception):
    """The key store cannot be reached; the request gets an honest "unavailable"."""


class StoreWatch:
    def __init__(
        self,
        pool: KeyPool,
        metrics: Metrics,
        health_servicer: health.aio.HealthServicer | None = None,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.pool, self.metrics, self.health, self.interval = pool, metrics, health_servicer, interval
        self.down_since = 0.0
        self._told: object = None  # the health status last set
        self._wake = asyncio.Event()
        metrics.store_up.set(1)

    def suspect(self) -> None:
        """A request failed on the store: look now. One connection cut by a Redis restart is not
        yet an outage; the check on a fresh connection decides."""
        self._wake.set()

    def down(self, exc: BaseException) -> None:
        """The store failed the check: the first failure of an incident is logged, the rest are not."""
        if self.down_since:
            return
        self.down_since = time.monotonic()
        self.metrics.store_up.set(0)
        log.error("key store unreachable; not serving until it answers", extra={"error": repr(exc)[:200]})

    async def check(self) -> None:
        """One look: rebuild lost rings; flip health and the gauge when the store comes and goes."""
        try:
            if not await self.pool.store.intact():  # one cheap call a second, and reachability
                await self.pool.rebuild()
        except UNREACHABLE as exc:
            self.down(exc)
        else:
            if self.down_since:
                seconds = round(time.monotonic() - self.down_since, 1)
                self.down_since = 0.0
                self.metrics.store_up.set(1)
                log.warning("key store reachable again", extra={"down_seconds": seconds})
        status = NOT_SERVING if self.down_since else SERVING
        if self.health is not None and status != self._told:
            await self.health.set("", status)
            self._told = status

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.check()
            except Exception:
                log.exception("key store check failed")
            await asyncio.sleep(MIN_GAP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval - MIN_GAP)
