"""The pool recovers by itself: lost Redis state, an unreachable Redis, an unreachable config service."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from grpc_health.v1 import health, health_pb2
from prometheus_client import CollectorRegistry

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.devstack import free_port
from gempool.common.tasks import stop_tasks
from gempool.keypool.configsync import ConfigStatusSink
from gempool.keypool.metrics import Metrics
from gempool.keypool.pool import KeyPool
from gempool.keypool.records import KeyRecord
from gempool.keypool.servicer import KeyPoolServicer
from gempool.keypool.session import serve_session
from gempool.keypool.store import UNREACHABLE, RedisStore, Store
from gempool.keypool.storewatch import StoreWatch
from gempool.keypool.testing import FakeConfig, eventually, start_fake_config

from .test_pool import NoSink

ACTIVE, RETIRED = config_pb2.KEY_STATUS_ACTIVE, config_pb2.KEY_STATUS_RETIRED


def records() -> list[KeyRecord]:
    keys = [KeyRecord(f"k{i}", f"AIza-secret-{i}", pb.POOL_UNSPECIFIED, ACTIVE) for i in range(3)]
    keys.append(KeyRecord("gone", "AIza-secret-gone", pb.POOL_UNSPECIFIED, RETIRED))
    return keys


async def wipe(store: RedisStore) -> None:
    """What a Redis restart without persistence leaves: nothing under the prefix."""
    await store.redis.delete(*[k async for k in store.redis.scan_iter(f"{store.names.root}*")])


async def test_leases_rebuild_lost_rings_once_from_the_records(redis_store: RedisStore) -> None:
    registry = CollectorRegistry()
    pool = KeyPool(redis_store, NoSink(), Metrics(registry))
    await pool.load(records(), 5)
    await redis_store.retire("k2", "API key not valid")  # marked here, recorded in config later
    pool.records["k2"].status = RETIRED
    await wipe(redis_store)
    answers = await asyncio.gather(*(pool.lease("m", pb.POOL_UNSPECIFIED, []) for _ in range(20)))
    assert {a.lease.key_id for a in answers} == {"k0", "k1"}, "retired keys stay out of the rebuilt rings"
    assert registry.get_sample_value("gempool_keypool_store_rebuilds_total") == 1


async def test_the_watch_says_when_the_store_is_down_once_and_rebuilds_when_it_is_back(
    redis_store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    dead = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", "nowhere:")
    pool = KeyPool(redis_store, NoSink(), Metrics(registry))
    await pool.load(records(), 5)
    servicer = health.aio.HealthServicer()
    watch = StoreWatch(pool, pool.metrics, servicer, interval=60)  # looks again only when asked

    async def status_is(wanted: int) -> bool:
        reply = await servicer.Check(health_pb2.HealthCheckRequest(), None)
        return bool(reply.status == wanted)

    task = asyncio.create_task(watch.run())
    try:
        await eventually(lambda: status_is(health_pb2.HealthCheckResponse.SERVING))
        pool.store = dead  # Redis goes away
        for _ in range(5):
            watch.suspect()  # as failed requests ask
            await asyncio.sleep(0.05)
        await eventually(lambda: status_is(health_pb2.HealthCheckResponse.NOT_SERVING))
        assert registry.get_sample_value("gempool_keypool_store_up") == 0
        assert [r.message for r in caplog.records if r.levelno >= logging.WARNING] == [
            "key store unreachable; not serving until it answers"
        ]
        await wipe(redis_store)
        pool.store = redis_store  # Redis is back, empty
        watch.suspect()
        await eventually(lambda: status_is(health_pb2.HealthCheckResponse.SERVING))
    finally:
        await stop_tasks(task)
    assert registry.get_sample_value("gempool_keypool_store_up") == 1
    assert registry.get_sample_value("gempool_keypool_store_rebuilds_total") == 1
    assert (await pool.lease("m", pb.POOL_UNSPECIFIED, [])).lease.key_id in {"k0", "k1", "k2"}
    await dead.close()


@pytest.fixture
async def config() -> AsyncIterator[tuple[FakeConfig, "config_pb2_grpc.ConfigServiceAsyncStub"]]:
    fake = FakeConfig()  # type: ignore[abstract]
    fake.add_keys(["AIza-secret-a", "AIza-secret-b"])
    server, port = await start_fake_config(fake)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield fake, config_pb2_grpc.ConfigServiceStub(channel)
    await server.stop(None)


async def test_status_changes_made_while_config_is_down_are_delivered_in_order_when_it_is_back(
    config: tuple[FakeConfig, "config_pb2_grpc.ConfigServiceAsyncStub"], make_store: Callable[[], Store]
) -> None:
    fake, stub = config
    a, b = sorted(fake.records)
    registry = CollectorRegistry()
    pool = KeyPool(make_store(), NoSink(), Metrics(registry))
    pool.sink = ConfigStatusSink(stub, pool.store, pool.metrics.status_pending)
    await pool.load([KeyRecord.from_proto(r) for r in fake.records.values()], 1)
    fake.status_error = grpc.StatusCode.UNKNOWN  # what an unhandled database error gives
    await pool.retire(a, "API key not valid", "bad_key")
    await pool.retire(b, "API key expired", "bad_key")
    await pool.restore([a], "probe answered")  # the latest change of a wins
    assert registry.get_sample_value("gempool_keypool_status_pending") == 2
    assert fake.records[b].status == ACTIVE and fake.status_calls == []
    fake.status_error = None
    # another replica (or this keypool after a restart) delivers what was kept
    later = ConfigStatusSink(stub, make_store(), retry_interval=0.02)
    task = asyncio.create_task(later.run())
    try:

        async def delivered() -> bool:
            return len(fake.status_calls) == 2

        await eventually(delivered)
    finally:
        task.cancel()
    assert [(c.key_id, c.status) for c in fake.status_calls] == [(b, RETIRED), (a, ACTIVE)]
    assert fake.records[b].status == RETIRED and fake.records[a].status == ACTIVE
    assert await later.store.kept_statuses() == []


async def test_what_an_unreachable_redis_raises_is_known_as_unreachable() -> None:
    dead = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", "nowhere:")
    with pytest.raises(UNREACHABLE):
        await dead.lease("free", "m", [])
    await dead.close()


async def test_requests_while_redis_is_down_get_an_answer_not_a_traceback_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", "nowhere:")
    pool = KeyPool(dead, NoSink(), Metrics(CollectorRegistry()))
    pool.revision = 1
    servicer = KeyPoolServicer(pool, None, StoreWatch(pool, pool.metrics))  # type: ignore[arg-type]

    async def requests() -> AsyncIterator[pb.SessionRequest]:
        for i in range(1, 4):
            yield pb.SessionRequest(id=i, lease=pb.LeaseRequest(model="m"))

    answers = [a async for a in serve_session(requests(), servicer._lease, servicer._report)]
    assert sorted(a.error for a in answers[1:]) == ["the key store (Redis) is unavailable"] * 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "the watch tells, once"
    await dead.close()


async def test_a_change_config_refuses_as_wrong_is_dropped_not_retried_forever(
    config: tuple[FakeConfig, "config_pb2_grpc.ConfigServiceAsyncStub"], make_store: Callable[[], Store]
) -> None:
    fake, stub = config
    a, b = sorted(fake.records)
    sink = ConfigStatusSink(stub, make_store())
    fake.status_error = grpc.StatusCode.INVALID_ARGUMENT
    await sink.set_status(a, RETIRED, "API key not valid")
    fake.status_error = None
    await sink.set_status(b, RETIRED, "API key not valid")
    assert [c.key_id for c in fake.status_calls] == [b] and await sink.store.kept_statuses() == []
