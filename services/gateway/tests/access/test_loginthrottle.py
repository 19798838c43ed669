"""Failed admin sign-ins per address: counted before the token is checked, shared through Redis."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from redis import asyncio as aioredis

from gempool.gateway.access.loginthrottle import (
    Attempt,
    LoginThrottle,
    MemoryThrottle,
    RedisThrottle,
    address,
)
from gempool.gateway.metrics import GatewayMetrics

from ..conftest import REDIS_URL


@pytest.fixture(params=["redis", "memory"])
async def throttle(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[LoginThrottle]:
    if request.param == "memory":
        yield MemoryThrottle()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    yield RedisThrottle(client, redis_prefix, GatewayMetrics(CollectorRegistry()))
    await client.aclose()


async def test_the_address_is_locked_after_the_limit_for_a_whole_window(throttle: LoginThrottle) -> None:
    answers = [await throttle.attempt("198.51.100.7", 3, 600) for _ in range(3)]
    assert [(a.locked_for, a.failures) for a in answers] == [(0, 1), (0, 2), (0, 3)]
    locked = await throttle.attempt("198.51.100.7", 3, 600)
    assert 590 < locked.locked_for <= 600 and locked.failures == 3  # a refused attempt is not counted
    assert (await throttle.attempt("198.51.100.8", 3, 600)).locked_for == 0  # other addresses go on


async def test_a_right_token_clears_the_count(throttle: LoginThrottle) -> None:
    for _ in range(2):
        await throttle.attempt("198.51.100.7", 3, 600)
    await throttle.succeeded("198.51.100.7")
    assert (await throttle.attempt("198.51.100.7", 3, 600)).failures == 1


async def test_the_lock_ends_with_its_window(throttle: LoginThrottle) -> None:
    for _ in range(2):
        await throttle.attempt("198.51.100.7", 2, 0.3)
    assert (await throttle.attempt("198.51.100.7", 2, 0.3)).locked_for > 0
    await asyncio.sleep(0.4)
    assert await throttle.attempt("198.51.100.7", 2, 0.3) == Attempt(0.0, 1)


async def test_parallel_guesses_cannot_pass_the_limit(throttle: LoginThrottle) -> None:
    answers = await asyncio.gather(*(throttle.attempt("198.51.100.7", 5, 600) for _ in range(40)))
    assert sum(a.locked_for == 0 for a in answers) == 5


def test_an_ipv6_host_counts_as_its_64() -> None:
    assert address("2001:db8:1:2:aaaa::1") == address("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address("2001:db8:1:3::1") != address("2001:db8:1:2::1")
    assert address("203.0.113.9") == "203.0.113.9" and address("unknown") == "unknown"


async def test_redis_away_counts_in_memory() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    throttle = RedisThrottle(client, "x:", metrics)
    answers = [await throttle.attempt("198.51.100.7", 2, 600) for _ in range(3)]
    assert [a.locked_for > 0 for a in answers] == [False, False, True]
    assert metrics.registry.get_sample_value("gempool_gateway_admin_redis_errors_total") == 3
    await client.aclose()
