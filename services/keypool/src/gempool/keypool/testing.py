"""A small in-process ConfigService for tests and the benchmark (a real grpc.aio server on port 0)."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common.keys import key_id


class FakeConfig(config_pb2_grpc.ConfigServiceServicer):
    """Keeps settings and key records in memory and pushes every change to watchers."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(settings or {})
        self.revision = 1
        self.keys_revision = 1
        self.records: dict[str, config_pb2.KeyRecord] = {}
        self.status_calls: list[config_pb2.SetKeyStatusRequest] = []
        self.list_calls = 0
        # SetKeyStatus fails with this code (UNAVAILABLE: as when its database is down)
        self.status_error: grpc.StatusCode | None = None
        self._watchers: list[asyncio.Queue[config_pb2.SettingsSnapshot]] = []

    def add_keys(
        self,
        api_keys: Iterable[str],
        kind: config_pb2.KeyKind.ValueType = config_pb2.KEY_KIND_UNSPECIFIED,
        tags: Iterable[str] = (),
        status: config_pb2.KeyStatus.ValueType = config_pb2.KEY_STATUS_ACTIVE,
    ) -> list[str]:
        ids = []
        for api_key in api_keys:
            rec = config_pb2.KeyRecord(
                key_id=key_id(api_key),
                api_key=api_key,
                kind=kind,
                status=status,
                tags=list(tags),
                changed_at_unix=time.time(),
            )
            self.records[rec.key_id] = rec
            ids.append(rec.key_id)
        self.keys_changed()
        return ids

    def snapshot(self) -> config_pb2.SettingsSnapshot:
        return config_pb2.SettingsSnapshot(
            values=self.values, revision=self.revision, keys_revision=self.keys_revision
        )

    def update(self, values: dict[str, str]) -> None:
        """Change settings (JSON-encoded values) and push the new snapshot."""
        self.values.update(values)
        self.revision += 1
        self._push()

    def keys_changed(self) -> None:
        self.keys_revision += 1
        self._push()

    def _push(self) -> None:
        for queue in self._watchers:
            queue.put_nowait(self.snapshot())

    async def Watch(
        self, request: config_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[config_pb2.WatchResponse]:
        queue: asyncio.Queue[config_pb2.SettingsSnapshot] = asyncio.Queue()
        self._watchers.append(queue)
        try:
            yield config_pb2.WatchResponse(snapshot=self.snapshot())
            while True:
                yield config_pb2.WatchResponse(snapshot=await queue.get())
        finally:
            self._watchers.remove(queue)

    async def ListKeys(
        self, request: config_pb2.ListKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> config_pb2.ListKeysResponse:
        self.list_calls += 1
        ordered = sorted(self.records)
        start = int(request.page_token or 0)
        end = start + (request.page_size or 100)
        return config_pb2.ListKeysResponse(
            keys=[self.records[k] for k in ordered[start:end]],
            next_page_token=str(end) if end < len(ordered) else "",
            keys_revision=self.keys_revision,
        )

    async def SetKeyStatus(
        self, request: config_pb2.SetKeyStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> config_pb2.SetKeyStatusResponse:
        if self.status_error is not None:
            await context.abort(self.status_error, "SetKeyStatus failed")
        self.status_calls.append(request)
        rec = self.records.get(request.key_id)
        if rec is None:
            return config_pb2.SetKeyStatusResponse(found=False)
        rec.status, rec.reason, rec.changed_at_unix = request.status, request.reason, time.time()
        self.keys_changed()
        return config_pb2.SetKeyStatusResponse(found=True)


async def start_fake_config(fake: FakeConfig) -> tuple[grpc.aio.Server, int]:
    """Serve ``fake`` on 127.0.0.1 (a free port); returns the server and its port."""
    server = grpc.aio.server()
    config_pb2_grpc.add_ConfigServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@dataclass
class Harness:
    """A real keypool server (port 0) following a real in-process fake ConfigService."""

    fake: FakeConfig
    stub: "keypool_pb2_grpc.KeyPoolServiceAsyncStub"
    upstream: list[httpx.Request]  # a request sent through a proxy has it in extensions["proxy"]
    proxy_clients: dict[str, list[httpx.AsyncClient]] = field(default_factory=dict)  # opened per proxy


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds (changes travel through the config service's watch)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
