"""Requests-per-minute limits per token: fixed one-minute windows, counted in Redis when the
gateway has ``REDIS_URL`` (one atomic INCR+EXPIRE script, shared by every replica), else in this
process. Redis trouble lets requests through (a limiter must not take the API down) and is counted.
"""

import logging
import time
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW = 60

# KEYS[1] counter of this window; ARGV[1] its lifetime (ms). Returns the count including this hit.
HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> float:
        """Count one request; 0 when within ``limit``, else seconds until the window ends."""
        ...

    async def aclose(self) -> None: ...


def window(now: float) -> tuple[int, float]:
    """(window number, seconds left in it)."""
    number = int(now // WINDOW)
    return number, (number + 1) * WINDOW - now


class MemoryLimiter:
    """One process's count (a single gateway, or no Redis)."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str, limit: int) -> float:
        number, left = window(time.time())
        if number != self._window:
            self._window, self._counts = number, {}
        count = self._counts[key] = self._counts.get(key, 0) + 1
        return left if count > limit else 0.0

    async def aclose(self) -> None:
        return None


class RedisLimiter:
    def __init__(self, url: str, prefix: str, registry: CollectorRegistry | None = None) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._redis.register_script(HIT)
        self._prefix = prefix
        self._failures = Counter(
            "gempool_gateway_ratelimit_errors",
            "Rate-limit checks that could not reach Redis (the request was let through)",
            registry=registry,
        )

    def name(self, key: str, number: int) -> str:
        return f"{self._prefix}rpm:{key}:{number}"

    async def hit(self, key: str, limit: int) -> float:
        number, left = window(time.time())
        try:
            count = int(await self._script(keys=[self.name(key, number)], args=[int(left * 1000) + 1000]))
        except (RedisError, OSError) as exc:
            self._failures.inc()
            log.warning("rate limit check failed; request let through", extra={"error": repr(exc)})
            return 0.0
        return left if count > limit else 0.0

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str, prefix: str, registry: CollectorRegistry | None = None) -> RateLimiter:
    return RedisLimiter(redis_url, prefix, registry) if redis_url else MemoryLimiter()
