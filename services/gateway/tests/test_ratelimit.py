"""Per-token request limits: one count shared by every gateway through Redis."""

import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from gempool.gateway import ratelimit
from gempool.gateway.ratelimit import MemoryLimiter, RedisLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"gempool-test-{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


async def test_two_replicas_share_one_count(prefix: str) -> None:
    first, second = RedisLimiter(REDIS_URL, prefix), RedisLimiter(REDIS_URL, prefix)
    try:
        answers = [await limiter.hit("token:1", 3) for limiter in (first, second, first, second)]
        other = await second.hit("token:2", 3)
    finally:
        await first.aclose()
        await second.aclose()
    assert answers[:3] == [0.0, 0.0, 0.0]
    assert 0 < answers[3] <= 60 and other == 0.0
    ttl = redis.Redis.from_url(REDIS_URL).pttl(
        next(redis.Redis.from_url(REDIS_URL).scan_iter(f"{prefix}rpm:token:1:*"))
    )
    assert 0 < ttl <= 61_000  # the counter goes away with its window


async def test_redis_down_lets_requests_through() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0", "x:")
    try:
        assert await limiter.hit("token:1", 1) == 0.0
        assert await limiter.hit("token:1", 1) == 0.0
    finally:
        await limiter.aclose()


async def test_memory_windows_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [600.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    limiter = MemoryLimiter()
    assert [await limiter.hit("k", 1) for _ in range(2)] == [0.0, 60.0]
    now[0] = 659.5
    assert await limiter.hit("k", 1) == 0.5
    now[0] = 660.0
    assert await limiter.hit("k", 1) == 0.0
