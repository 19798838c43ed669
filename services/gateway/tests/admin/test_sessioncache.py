"""The admin session cache: fast on repeat, and a session ended on one replica ends on all at once."""

import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from redis import asyncio as aioredis

from gempool.gateway.admin.sessioncache import Revocations, SessionCache
from gempool.gateway.metrics import GatewayMetrics

from ..conftest import REDIS_URL


class Config:
    """Stands in for the config service's CheckSession: the sessions that exist, and the calls."""

    def __init__(self) -> None:
        self.sessions: dict[str, float] = {}
        self.calls = 0

    async def check(self, session_digest: str) -> float | None:
        self.calls += 1
        return self.sessions.get(session_digest)


@pytest.fixture
async def replicas(redis_prefix: str) -> AsyncIterator[list[SessionCache]]:
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    metrics = GatewayMetrics(CollectorRegistry())
    yield [SessionCache(Revocations(c, redis_prefix, metrics)) for c in clients]
    for client in clients:
        await client.aclose()


async def test_a_checked_session_is_not_asked_for_again(replicas: list[SessionCache]) -> None:
    config = Config()
    config.sessions["d1"] = time.time() + 3600
    for _ in range(3):
        assert await replicas[0].expires_at("d1", config.check) == config.sessions["d1"]
    assert config.calls == 1


async def test_a_revoked_session_is_refused_at_once_by_the_other_replica(
    replicas: list[SessionCache],
) -> None:
    config = Config()
    config.sessions["d1"] = config.sessions["d2"] = time.time() + 3600
    here, there = replicas
    for replica in replicas:
        assert await replica.expires_at("d1", config.check) is not None
        assert await replica.expires_at("d2", config.check) is not None
    del config.sessions["d1"]  # the logout on ``here``: the config service forgets it ...
    await here.revoke("d1")  # ... and every replica is told
    assert await there.expires_at("d1", config.check) is None
    assert await here.expires_at("d1", config.check) is None
    calls = config.calls
    assert await there.expires_at("d2", config.check) is not None  # others stay cached
    assert config.calls == calls


async def test_an_ended_session_is_refused_without_asking(replicas: list[SessionCache]) -> None:
    config = Config()
    config.sessions["d1"] = time.time() + 0.2
    assert await replicas[0].expires_at("d1", config.check) is not None
    time.sleep(0.25)
    del config.sessions["d1"]
    assert await replicas[0].expires_at("d1", config.check) is None


async def test_without_redis_answers_the_config_service() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    cache, config = SessionCache(Revocations(client, "x:", metrics)), Config()
    config.sessions["d1"] = time.time() + 3600
    assert await cache.expires_at("d1", config.check) is not None
    del config.sessions["d1"]  # ended elsewhere, and the revocation cannot be read: ask
    assert await cache.expires_at("d1", config.check) is None
    assert metrics.registry.get_sample_value("gempool_gateway_admin_redis_errors_total") == 1
    await client.aclose()
