"""Request and error logs: what forward() records, and that batches survive a config outage once."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry
from starlette.responses import StreamingResponse

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running
from gempool.gateway.access.tokens import CALLER, Caller
from gempool.gateway.logs.ship import LogShipper, Trace, to_error, usage
from gempool.gateway.logs.spool import Spool
from gempool.gateway.pipeline.attempt import Outcome
from gempool.gateway.pipeline.proxy import forward
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool
from ..pipeline.test_proxy import body_of, generate


@dataclass
class FakeConfig(config_pb2_grpc.ConfigServiceServicer):
    """Stores each batch id once; ``down`` refuses calls, ``lose_answers`` stores then fails."""

    batches: dict[str, config_pb2.WriteLogsRequest] = field(default_factory=dict)
    calls: int = 0
    down: bool = False
    lose_answers: int = 0

    async def WriteLogs(
        self, request: config_pb2.WriteLogsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> config_pb2.WriteLogsResponse:
        self.calls += 1
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        self.batches.setdefault(request.batch_id, request)
        if self.lose_answers:
            self.lose_answers -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "stored, but the answer is lost")
        return config_pb2.WriteLogsResponse(stored=len(request.requests) + len(request.errors))

    def requests(self) -> list[config_pb2.RequestLog]:
        return [r for b in self.batches.values() for r in b.requests]

    def errors(self) -> list[config_pb2.ErrorLog]:
        return [e for b in self.batches.values() for e in b.errors]


@pytest.fixture
async def config() -> AsyncIterator[tuple[FakeConfig, grpc.aio.Channel]]:
    fake = FakeConfig()  # type: ignore[abstract]  # WriteLogs alone; the rest answer UNIMPLEMENTED
    server = grpc.aio.server()
    config_pb2_grpc.add_ConfigServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield fake, channel
    await channel.close()
    await server.stop(None)


@pytest.fixture
async def shipped(runtime: Runtime, config: tuple[FakeConfig, grpc.aio.Channel]) -> FakeConfig:
    """The runtime's logs go to the fake config service."""
    fake, channel = config
    await runtime.logs.close(timeout=0)
    runtime.logs = LogShipper(config_pb2_grpc.ConfigServiceStub(channel), CollectorRegistry())
    return fake


async def test_forward_records_the_request_and_each_failed_attempt(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], shipped: FakeConfig
) -> None:
    pool, _ = fake_pool
    pool.keys = ["invalid-key-aaaa1111", "ok-key-bbbb2222"]
    CALLER.set(Caller("team-a", "token:1"))
    assert runtime.live is not None
    runtime.live = Live.build(
        runtime.live.settings.model_copy(update={"ERROR_LOG_RECORD_REQUEST_BODY": True})
    )
    response = await forward(runtime, runtime.live, generate())
    assert response.status_code == 200 and await runtime.logs.flush()
    [request] = shipped.requests()
    assert (request.token_name, request.model, request.dialect) == ("team-a", "gemini-2.5-flash", "gemini")
    assert (request.status, request.attempts, request.key_masked) == (200, 2, "ok-k...2222")
    assert request.tokens_in > 0 and request.tokens_out > 0 and request.latency_seconds > 0
    [error] = shipped.errors()
    assert (error.status, error.error_code, error.key_masked) == (400, "INVALID_ARGUMENT", "inva...1111")
    assert "API key" in error.message and b'"hi"' in error.request_body.encode()
    assert error.request_id == request.request_id and error.token_name == "team-a"


async def test_a_stream_is_logged_when_it_ends(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], shipped: FakeConfig
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-key-cccc3333"]
    response = await forward(runtime, runtime.live, generate(stream=True))  # type: ignore[arg-type]
    assert isinstance(response, StreamingResponse)
    await runtime.logs.flush()
    assert shipped.requests() == []  # still streaming
    await body_of(response)
    await runtime.logs.flush()
    [request] = shipped.requests()
    assert request.status == 200 and request.latency_seconds >= request.first_byte_seconds > 0
    assert request.tokens_out > 0 and request.token_name == ""  # no caller: forward() called directly


async def test_batches_wait_out_an_outage_and_are_stored_once(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], shipped: FakeConfig
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-key-dddd4444"]
    shipped.down = True
    for _ in range(5):
        await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert not await runtime.logs.flush() and runtime.logs.buffered() == 5
    shipped.down, shipped.lose_answers = False, 1
    assert not await runtime.logs.flush()  # stored, but the answer was lost: sent again
    assert await runtime.logs.flush() and runtime.logs.buffered() == 0
    # down, stored with the answer lost, sent again under the same batch id
    assert shipped.calls == 3 and len(shipped.batches) == 1 and len(shipped.requests()) == 5


async def test_a_full_buffer_drops_the_oldest_and_counts(
    config: tuple[FakeConfig, grpc.aio.Channel],
) -> None:
    fake, channel = config
    registry = CollectorRegistry()
    shipper = LogShipper(config_pb2_grpc.ConfigServiceStub(channel), registry, capacity=3, batch_size=2)
    caller = Caller("t", "t")
    for n in range(5):
        trace = Trace(caller, request_id=f"r{n}")
        shipper.request(generate(), trace, 200, 0.1, 0.1, b"")
    assert registry.get_sample_value("gempool_gateway_logs_dropped_total", {"kind": "request"}) == 2
    assert await shipper.flush()
    assert [r.request_id for r in fake.requests()] == ["r2", "r3", "r4"] and len(fake.batches) == 2


def test_usage_from_the_end_of_an_answer() -> None:
    gemini = (
        b'..."usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}}'
    )
    openai = b'...,"usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15}}\n\ndata: [DONE]\n\n'
    assert usage(gemini) == (7, 5) and usage(openai) == (11, 4) and usage(b"no usage") == (0, 0)
    assert usage(b'TokenCount": 7, "candidatesTokenCount": 3}}') == (0, 0)  # the kept tail began mid-usage
    stream = b'data: {"usageMetadata": {"promptTokenCount": 5}}\r\n\r\ndata: {"usageMetadata": ' + gemini[17:]
    assert usage(stream) == (7, 5)  # the last event of a stream carries the totals


async def test_a_flush_cancelled_while_building_a_batch_loses_nothing(
    config: tuple[FakeConfig, grpc.aio.Channel],
) -> None:
    fake, channel = config
    shipper = LogShipper(config_pb2_grpc.ConfigServiceStub(channel), CollectorRegistry())
    for n in range(250):
        shipper.request(generate(), Trace(Caller("t", "t"), request_id=f"r{n}"), 200, 0.1, 0.1, b"")
    flushing = asyncio.create_task(shipper.flush())
    await asyncio.sleep(0)  # the batch is built a slice at a time: stop it halfway
    flushing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flushing
    assert shipper.buffered() == 250
    assert await shipper.flush()
    assert sorted(int(r.request_id[1:]) for r in fake.requests()) == list(range(250))


def test_an_error_text_that_echoes_the_key_is_logged_masked() -> None:
    key = "AIzaSyECHOED0000000000000000000000009Qk"
    trace = Trace(Caller("t", "t"))
    trace.use(key)
    body = b'{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad key %s"}}' % key.encode()
    outcome = Outcome(status=400, body=body)
    error = to_error((0.0, trace.key, "m", outcome, b"", "r", "t", trace.secret, "kid"))
    assert error.message == "bad key AIza...09Qk" and "ECHOED" not in str(error) and error.key_id == "kid"


# ---- the disk spool: records that outlive an outage or the gateway itself


def shipper_on(
    channel: grpc.aio.Channel, directory: Path, registry: CollectorRegistry | None = None
) -> LogShipper:
    stub = config_pb2_grpc.ConfigServiceStub(channel)
    return LogShipper(stub, registry, spool=Spool(directory, 1 << 20, registry), spool_after=0.0)


def record_into(shipper: LogShipper, *numbers: int) -> None:
    for n in numbers:
        shipper.request(generate(), Trace(Caller("t", "t"), request_id=f"r{n}"), 200, 0.1, 0.1, b"")


async def test_an_outage_goes_to_disk_and_a_new_gateway_ships_it_once(
    config: tuple[FakeConfig, grpc.aio.Channel], log_spool_dir: Path
) -> None:
    fake, channel = config
    fake.down = True
    first = shipper_on(channel, log_spool_dir)
    record_into(first, 0, 1, 2)
    await first.round()  # flush fails; the outage is older than spool_after (0): to disk
    assert first.buffered() == 0 and len(list(log_spool_dir.glob("*.batch"))) == 1
    fake.down, fake.lose_answers = False, 1
    record_into(first, 3, 4)
    await first.round()  # stored, but the answer is lost: to disk under the same batch id
    assert first.buffered() == 0 and len(list(log_spool_dir.glob("*.batch"))) == 2
    fake.down = True
    record_into(first, 5)
    await first.close(timeout=1)  # the gateway stops while the config service is away
    assert first.buffered() == 0 and len(list(log_spool_dir.glob("*.batch"))) == 3

    fake.down = False
    second = shipper_on(channel, log_spool_dir)  # a new gateway on the same directory
    await second.round()
    assert list(log_spool_dir.iterdir()) == []
    assert sorted(r.request_id for r in fake.requests()) == [f"r{n}" for n in range(6)]
    assert len(fake.batches) == 3 and fake.calls == 6  # 3 refused or unanswered, 3 from disk


async def test_a_full_spool_drops_the_oldest_batch_and_counts(
    config: tuple[FakeConfig, grpc.aio.Channel], log_spool_dir: Path
) -> None:
    fake, channel = config
    fake.down = True
    registry = CollectorRegistry()
    spool = Spool(log_spool_dir, 1 << 20, registry)
    shipper = LogShipper(config_pb2_grpc.ConfigServiceStub(channel), registry, spool=spool, spool_after=0.0)
    record_into(shipper, 0, 1)
    await shipper.round()
    [first] = log_spool_dir.glob("*.batch")
    spool.max_bytes = first.stat().st_size * 5 // 2  # room for two batches of two
    for n in (1, 2):
        record_into(shipper, 2 * n, 2 * n + 1)
        await shipper.round()
    assert registry.get_sample_value("gempool_gateway_logs_spool_dropped_total", {"kind": "request"}) == 2
    assert registry.get_sample_value("gempool_gateway_logs_spooled_total", {"kind": "request"}) == 6
    fake.down = False
    await shipper.round()
    assert sorted(r.request_id for r in fake.requests()) == ["r2", "r3", "r4", "r5"]


async def test_an_unwritable_spool_keeps_records_in_memory(
    config: tuple[FakeConfig, grpc.aio.Channel], tmp_path: Path
) -> None:
    fake, channel = config
    fake.down = True
    (tmp_path / "a-file").write_text("")
    shipper = shipper_on(channel, tmp_path / "a-file" / "spool")
    record_into(shipper, 1, 2)
    await shipper.round()
    assert shipper.buffered() == 2
    fake.down = False
    await shipper.round()
    assert [r.request_id for r in fake.requests()] == ["r1", "r2"]


async def test_a_suspended_keys_error_log_holds_no_whole_key(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, shipped: FakeConfig
) -> None:
    key = "AIzaSyLOGGED000000000000000000000000x9Qk"
    pool, _ = fake_pool
    pool.keys = [key]
    upstream.fake.rules.keys[key] = Behaviour("suspended")
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 403 and await runtime.logs.flush()
    [error] = shipped.errors()
    assert error.error_code == "PERMISSION_DENIED" and "AIza...x9Qk" in error.message
    assert key not in str(error)
