"""Gateway unit fixtures: a real in-process fake KeyPool gRPC server and the fake Gemini upstream."""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from prometheus_client import CollectorRegistry

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common.grpcserver import KEEPALIVE_ACCEPTED
from gempool.common.keys import key_id
from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running, serve_in_thread
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.runtime import Live, Runtime
from gempool.gateway.settings import GatewaySettings

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def log_spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's gateway spools logs in a directory of its own, never the repo's ./data."""
    directory = tmp_path / "log-spool"
    monkeypatch.setenv("LOG_SPOOL_DIR", str(directory))
    return directory


@dataclass
class FakeKeyPool(keypool_pb2_grpc.KeyPoolServiceServicer):
    """Hands out the first key not yet tried; judges reports with a few of the real pool's rules."""

    keys: list[str] = field(default_factory=list)
    exhausted_after: float = 0.0
    reports: list[kp.ReportRequest] = field(default_factory=list)
    leases: list[kp.LeaseRequest] = field(default_factory=list)
    sessions: bool = True

    async def Lease(
        self, request: kp.LeaseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> kp.LeaseResponse:
        self.leases.append(request)
        ready = [k for k in self.keys if key_id(k) not in request.exclude_key_ids]
        if not ready:
            return kp.LeaseResponse(exhausted=kp.Exhausted(retry_after_seconds=self.exhausted_after))
        key = ready[0]
        return kp.LeaseResponse(lease=kp.Lease(key_id=key_id(key), api_key=key))

    async def Report(
        self, request: kp.ReportRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> kp.ReportResponse:
        self.reports.append(request)
        status = request.http_status
        if status == 200 and not request.empty_answer:
            return kp.ReportResponse(verdict=kp.VERDICT_SUCCESS)
        reason = request.error_body[:300].decode(errors="replace")  # the real pool quotes Google too
        if status in (400, 404) and b"API_KEY_INVALID" not in request.error_body:
            return kp.ReportResponse(verdict=kp.VERDICT_CLIENT_ERROR, retry=False, reason=reason)
        return kp.ReportResponse(verdict=kp.VERDICT_TRANSIENT, retry=True, reason=reason)

    async def Session(
        self, request_iterator: AsyncIterator[kp.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[kp.SessionResponse]:
        if not self.sessions:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "an older keypool")
        async for message in request_iterator:
            if message.HasField("lease"):
                yield kp.SessionResponse(id=message.id, lease=await self.Lease(message.lease, context))
            else:
                yield kp.SessionResponse(id=message.id, report=await self.Report(message.report, context))

    async def ReportBatch(
        self, request: kp.ReportBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> kp.ReportBatchResponse:
        self.reports.extend(request.reports)
        return kp.ReportBatchResponse(accepted=len(request.reports))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, cleaned afterwards."""
    prefix = f"gempool-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Running]:
    with serve_in_thread() as running:
        yield running


@pytest.fixture
async def fake_pool() -> AsyncIterator[tuple[FakeKeyPool, int]]:
    pool = FakeKeyPool()  # type: ignore[abstract]  # no admin RPCs (ListKeys...): they answer UNIMPLEMENTED
    server = grpc.aio.server(options=KEEPALIVE_ACCEPTED)  # as the real keypool: the gateway pings
    keypool_pb2_grpc.add_KeyPoolServiceServicer_to_server(pool, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield pool, port
    await server.stop(None)


@pytest.fixture
async def runtime(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> AsyncIterator[Runtime]:
    upstream.fake.calls.clear()
    upstream.fake.rules.keys.clear()
    _, port = fake_pool
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    rt = Runtime(settings, GatewayMetrics(CollectorRegistry()))
    await rt.open()
    rt.live = Live.build(LiveSettings(BASE_URL=f"{upstream.url}/v1beta", ALLOWED_TOKENS=["t"], MAX_RETRIES=3))
    yield rt
    await rt.close()
