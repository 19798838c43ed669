"""The config service as the keypool sees it: live settings, the key list, durable status changes."""

import logging

import grpc
from pydantic import ValidationError

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.live import LiveSettings
from gempool.common.logs import set_level

from .pool import KeyPool
from .records import KeyRecord

log = logging.getLogger(__name__)
PAGE_SIZE = 1000
STATUS_TIMEOUT = 5.0


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
    """Records retirements and restorations in the config service (the durable truth)."""

    def __init__(self, stub: "config_pb2_grpc.ConfigServiceAsyncStub") -> None:
        self.stub = stub

    async def set_status(self, key_id: str, status: int, reason: str) -> None:
        request = config_pb2.SetKeyStatusRequest(key_id=key_id, status=status, reason=reason[:500])  # type: ignore[arg-type]
        try:
            await self.stub.SetKeyStatus(request, timeout=STATUS_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            # The store's mark still keeps the key out of every replica's rotation.
            log.warning("could not record key status", extra={"key_id": key_id, "code": exc.code().name})
