"""Requests-per-minute limits per token: a sliding 60-second window, exact.

Each token keeps a log of the times of the requests it was let through in the last 60 s; a request
goes through when fewer than ``limit`` are logged, so no 60-second span ever holds more than
``limit`` (a fixed window let a team send twice its limit across a window boundary). A refused
request is not logged, and waits until the oldest logged one leaves the window.

With ``REDIS_URL`` the log is a sorted set per token, checked and written by one Lua script (one
round trip, atomic for every replica) on Redis's own clock, so replicas with skewed clocks still
share one timeline; without it, a deque per token in this process. Redis trouble lets requests
through (a limiter must not take the API down) and is counted.
"""

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW = 60
WINDOW_MS = WINDOW * 1000

# KEYS[1] the token's log (score: ms); ARGV[1] limit, ARGV[2] window (ms), ARGV[3] now (ms, empty:
# Redis's clock), ARGV[4] a unique member. Returns 0 when let through, else ms until a slot frees.
HIT = """
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local freeing = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, tonumber(freeing[2]) + window - now)
"""

Clock = Callable[[], float]


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> float:
        """Count one request; 0 when within ``limit``, else seconds until a slot frees."""
        ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    """One process's log (a single gateway, or no Redis): the same window as Redis's."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int) -> float:
        now = self._clock()
        times = self._logs.setdefault(key, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) < limit:
            times.append(now)
            return 0.0
        return times[len(times) - limit] + WINDOW - now

    async def aclose(self) -> None:
        return None


class RedisLimiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
    ) -> None:
        """On the gateway's Redis client (its owner closes it). ``clock`` (seconds) replaces Redis's
        clock: for tests that step through time."""
        self._script = redis.register_script(HIT)
        self._prefix, self._clock = prefix, clock
        self._failures = Counter(
            "gempool_gateway_ratelimit_errors",
            "Rate-limit checks that could not reach Redis (the request was let through)",
            registry=registry,
        )

    def name(self, key: str) -> str:
        return f"{self._prefix}rpm:{key}"

    async def hit(self, key: str, limit: int) -> float:
        now = "" if self._clock is None else int(self._clock() * 1000)
        args = [limit, WINDOW_MS, now, secrets.token_hex(8)]
        try:
            wait_ms = int(await self._script(keys=[self.name(key)], args=args))
        except (RedisError, OSError) as exc:
            self._failures.inc()
            log.warning("rate limit check failed; request let through", extra={"error": repr(exc)})
            return 0.0
        return wait_ms / 1000

    async def aclose(self) -> None:
        return None  # the client belongs to the runtime


def make_limiter(
    redis: aioredis.Redis | None, prefix: str, registry: CollectorRegistry | None = None
) -> RateLimiter:
    return RedisLimiter(redis, prefix, registry) if redis is not None else MemoryLimiter()
