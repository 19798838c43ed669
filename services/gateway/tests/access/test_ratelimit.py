"""Per-token request limits: a sliding 60 s window shared by every gateway through Redis."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis
from redis import asyncio as aioredis

from gempool.gateway.access.ratelimit import MemoryLimiter, RateLimiter, RedisLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"
START = 1_700_000_020.0  # a minute boundary falls at START + 20


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def client(url: str = REDIS_URL) -> AsyncIterator[aioredis.Redis]:
    """A gateway's Redis client (the runtime owns it, not the limiter)."""
    connection = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def replicas(redis_prefix: str) -> AsyncIterator[tuple[Clock, list[RedisLimiter]]]:
    """Two gateways on one Redis, both following one test clock."""
    clock = Clock()
    async with client() as first, client() as second:
        yield clock, [RedisLimiter(c, redis_prefix, clock=clock) for c in (first, second)]


@pytest.fixture(params=["redis", "memory"])
async def one(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[tuple[Clock, RateLimiter]]:
    clock = Clock()
    if request.param == "memory":
        yield clock, MemoryLimiter(clock)
        return
    async with client() as connection:
        yield clock, RedisLimiter(connection, redis_prefix, clock=clock)


async def test_no_60s_span_holds_more_than_the_limit_across_a_boundary(
    replicas: tuple[Clock, list[RedisLimiter]],
) -> None:
    """A client that tries every 0.5 s for three minutes, through either replica in turn."""
    clock, limiters = replicas
    admitted: list[float] = []
    for step in range(360):
        clock.now = START + step * 0.5
        if await limiters[step % 2].hit("token:1", 10) == 0:
            admitted.append(clock.now)
    for at in admitted:
        assert sum(at <= t < at + 60 for t in admitted) <= 10, at
    # The burst of 10 at START, then 10 more only once they left the window: never 20 around
    # the boundary at START + 20 as a fixed window allowed.
    assert admitted[:10] == [START + n * 0.5 for n in range(10)]
    assert admitted[10:20] == [START + 60 + n * 0.5 for n in range(10)]
    assert len(admitted) == 30


async def test_two_replicas_share_one_budget(replicas: tuple[Clock, list[RedisLimiter]]) -> None:
    clock, (first, second) = replicas
    answers = [await limiter.hit("token:1", 3) for limiter in (first, second, first, second)]
    assert answers[:3] == [0.0, 0.0, 0.0] and answers[3] == 60.0
    assert await second.hit("token:2", 3) == 0.0  # another token has its own budget
    ttl = redis.Redis.from_url(REDIS_URL).pttl(first.name("token:1"))
    assert 0 < ttl <= 60_000  # an idle token's log goes away with its window


async def test_retry_after_is_when_the_oldest_request_leaves_the_window(
    one: tuple[Clock, RateLimiter],
) -> None:
    clock, limiter = one
    for offset in (0.0, 10.0, 25.0):
        clock.now = START + offset
        assert await limiter.hit("k", 3) == 0.0
    clock.now = START + 30.0
    assert await limiter.hit("k", 3) == pytest.approx(30.0)  # the request at +0 leaves at +60
    clock.now = START + 59.9
    assert await limiter.hit("k", 3) == pytest.approx(0.1)
    clock.now = START + 60.0
    assert await limiter.hit("k", 3) == 0.0  # refused tries took no slot
    assert await limiter.hit("k", 3) == pytest.approx(10.0)  # the next frees at +70
    clock.now = START + 70.0
    assert await limiter.hit("k", 3) == 0.0


async def test_a_lowered_limit_waits_for_enough_requests_to_leave(one: tuple[Clock, RateLimiter]) -> None:
    clock, limiter = one
    for offset in (0.0, 10.0, 20.0, 30.0):
        clock.now = START + offset
        assert await limiter.hit("k", 4) == 0.0
    clock.now = START + 40.0
    assert await limiter.hit("k", 2) == pytest.approx(40.0)  # 3 must go to leave a slot: +20 at +80


async def test_redis_clock_by_default(redis_prefix: str) -> None:
    async with client() as connection:
        limiter = RedisLimiter(connection, redis_prefix)
        assert [await limiter.hit("token:1", 2) for _ in range(2)] == [0.0, 0.0]
        assert 59.0 < await limiter.hit("token:1", 2) <= 60.0


async def test_redis_down_lets_requests_through() -> None:
    async with client("redis://127.0.0.1:1/0") as connection:
        limiter = RedisLimiter(connection, "x:")
        assert await limiter.hit("token:1", 1) == 0.0
        assert await limiter.hit("token:1", 1) == 0.0
