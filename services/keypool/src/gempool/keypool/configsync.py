"""The config service as the keypool sees it: live settings, the key list, durable status changes."""

import asyncio
import contextlib
import logging
import time

import grpc
from prometheus_client import Gauge
from pydantic import ValidationError

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.live import LiveSettings
from gempool.common.logs import set_level

from .pool import KeyPool
from .records import KeyRecord
from .store import UNREACHABLE, Store

log = logging.getLogger(__name__)
PAGE_SIZE = 1000
STATUS_TIMEOUT = 5.0
# How often kept status changes are offered to the config service again.
RETRY_INTERVAL = 1.0
# Answers that say the change itself is wrong: offering it again would block every later change.
REFUSED = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED}
)


class ConfigSync:
    """Applies every settings snapshot and reloads keys whenever ``keys_revision`` moves."""

    def __init__(self, stub: "config_pb2_grpc.ConfigServiceAsyncStub", pool: KeyPool) -> None:
        self.stub, self.pool = stub, pool
        self.keys_revision: int | None = None

    async def on_snapshot(self, snapshot: config_pb2.SettingsSnapshot) -> None:
        try:
            live = LiveSettings.from_wire(snapshot.values)
        except (ValidationError, ValueError):
            log.exception("ignoring invalid settings", extra={"revision": snapshot.revision})
        else:
            self.pool.apply_settings(live)
            set_level(live.LOG_LEVEL)
        if snapshot.keys_revision != self.keys_revision:
            await self.reload()
            self.keys_revision = snapshot.keys_revision

    async def reload(self) -> None:
        records, revision = await fetch_keys(self.stub)
        await self.pool.load(records, revision)
        log.info("keys loaded", extra={"keys": len(records), "keys_revision": revision})


async def fetch_keys(stub: "config_pb2_grpc.ConfigServiceAsyncStub") -> tuple[list[KeyRecord], int]:
    """Every key record, page by page, and the keys_revision of the first page."""
    records: list[KeyRecord] = []
    token, revision = "", -1
    while True:
        page = await stub.ListKeys(config_pb2.ListKeysRequest(page_size=PAGE_SIZE, page_token=token))
        revision = page.keys_revision if revision < 0 else revision
        records.extend(KeyRecord.from_proto(rec) for rec in page.keys)
        token = page.next_page_token
        if not token:
            return records, revision


class ConfigStatusSink:
    """Records retirements and restorations in the config service (the durable truth).

    Every change goes to an outbox in the store first, then to the config service; one that cannot
    be delivered (config or PostgreSQL down) stays there and is delivered in order once config
    answers again, by ``run``. The outbox holds one change per key (the latest wins), so it is
    bounded by the number of keys. With Redis it is shared by the replicas and outlives a keypool
    restart; the memory store's outbox lives as long as the process.
    """

    def __init__(
        self,
        stub: "config_pb2_grpc.ConfigServiceAsyncStub",
        store: Store,
        pending: Gauge | None = None,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.stub, self.store, self.pending = stub, store, pending
        self.retry_interval = retry_interval
        self.failing_since = 0.0  # set while config does not take our changes
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    async def set_status(self, key_id: str, status: int, reason: str) -> None:
        await self.store.keep_status(key_id, status, reason[:500])
        if self.failing_since or self._lock.locked():
            self._wake.set()  # the retry loop delivers it in turn
            if self.failing_since and self.pending is not None:
                self.pending.set(len(await self.store.kept_statuses()))
            return
        await self.deliver()

    async def deliver(self) -> int:
        """Send every kept change, oldest first; stop at the first the config service refuses."""
        sent = 0
        async with self._lock:
            kept = await self.store.kept_statuses()
            for change in kept:
                request = config_pb2.SetKeyStatusRequest(
                    key_id=change.key_id,
                    status=change.status,  # type: ignore[arg-type]
                    reason=change.reason,
                )
                try:
                    await self.stub.SetKeyStatus(request, timeout=STATUS_TIMEOUT)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() not in REFUSED:
                        self._failed(exc, len(kept) - sent)
                        return sent
                    extra = {"key_id": change.key_id, "code": exc.code().name}
                    log.warning("config refused a key status change; dropped", extra=extra)
                await self.store.drop_status(change)
                sent += 1
            self._delivered(sent)
        return sent

    def _failed(self, exc: grpc.aio.AioRpcError, left: int) -> None:
        if self.pending is not None:
            self.pending.set(left)
        if not self.failing_since:  # one line per outage, not one per change
            self.failing_since = time.monotonic()
            log.warning(
                "could not record key status; kept for delivery when config is back",
                extra={"code": exc.code().name, "pending": left},
            )

    def _delivered(self, sent: int) -> None:
        if self.pending is not None:
            self.pending.set(0)
        if self.failing_since:
            down = time.monotonic() - self.failing_since
            self.failing_since = 0.0
            log.info(
                "kept key status changes recorded", extra={"delivered": sent, "after_seconds": round(down, 1)}
            )

    async def run(self) -> None:
        """Deliver what was kept: at once when woken, and every ``retry_interval`` (other
        replicas' changes, and those kept before a restart)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_interval)
            self._wake.clear()
            try:
                await self.deliver()
            except UNREACHABLE:
                pass  # the store watch tells about the store
            except Exception:
                log.exception("delivering kept key status changes failed")
