"""Failed sign-ins per client address: after ``limit`` wrong tokens within ``window`` seconds the
address is locked out for a whole window, and is refused before its token is looked at. The admin
sign-in counts here (scope ``admin``), and so do wrong API tokens on the model API (scope
``client``, see :mod:`gempool.gateway.access.clientthrottle`), each in counts of its own.

Every attempt is counted before the token is checked (one atomic step, so parallel guesses cannot
slip past the limit) and a right token clears the count. Counted in Redis when the gateway has
``REDIS_URL`` (shared by every replica), else in this process; while Redis is away each replica
counts in its own memory, so the limit still holds, per replica.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from gempool.gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

# KEYS[1] failures of one address; ARGV[1] the limit; ARGV[2] the window (ms).
# Returns {ms the address stays locked (0: go on, this attempt counted), failures counted}.
ATTEMPT = """
local limit = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= limit then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = tonumber(ARGV[2]) end
  return {left, count}
end
count = redis.call('INCR', KEYS[1])
if count == 1 or count >= limit then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {0, count}
"""


@dataclass(frozen=True)
class Attempt:
    locked_for: float  # seconds the address must still wait; 0: the token may be checked
    failures: int  # attempts counted in this window, this one included (until a right token clears them)


class LoginThrottle(Protocol):
    async def attempt(self, client: str, limit: int, window: float) -> Attempt:
        """Count one attempt from ``client`` unless it is locked out."""
        ...

    async def succeeded(self, client: str) -> None:
        """The admin token was right: forget the address's failures."""
        ...


def address(client: str) -> str:
    """The unit counted: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class MemoryThrottle:
    """One process's count (a single gateway, or Redis away)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (count, until, monotonic)

    async def attempt(self, client: str, limit: int, window: float) -> Attempt:
        key, now = address(client), time.monotonic()
        count, until = self._failures.get(key, (0, 0.0))
        if until <= now:
            count = 0
        if count >= limit:
            return Attempt(until - now, count)
        count += 1
        if count == 1 or count >= limit:
            until = now + window
        self._failures[key] = (count, until)
        if len(self._failures) > self._capacity:
            self._trim(now)
        return Attempt(0.0, count)

    async def succeeded(self, client: str) -> None:
        self._failures.pop(address(client), None)

    def _trim(self, now: float) -> None:
        self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        if len(self._failures) > self._capacity:  # still full: the oldest half goes
            for key in list(islice(self._failures, len(self._failures) // 2)):
                del self._failures[key]


class RedisThrottle:
    def __init__(
        self, redis: aioredis.Redis, prefix: str, metrics: GatewayMetrics, scope: str = "admin"
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(ATTEMPT)
        self._prefix, self._scope = prefix, scope
        self._errors = metrics.admin_redis_errors if scope == "admin" else metrics.client_auth_redis_errors
        self._fallback = MemoryThrottle()

    def name(self, client: str) -> str:
        return f"{self._prefix}{self._scope}:failures:{address(client)}"

    async def attempt(self, client: str, limit: int, window: float) -> Attempt:
        try:
            left, count = await self._script(keys=[self.name(client)], args=[limit, int(window * 1000)])
        except (RedisError, OSError) as exc:
            self._trouble(exc)
            return await self._fallback.attempt(client, limit, window)
        return Attempt(int(left) / 1000, int(count))

    async def succeeded(self, client: str) -> None:
        await self._fallback.succeeded(client)
        try:
            await self._redis.delete(self.name(client))
        except (RedisError, OSError) as exc:
            self._trouble(exc)

    def _trouble(self, exc: BaseException) -> None:
        self._errors.inc()
        extra = {"error": repr(exc), "scope": self._scope}
        log.warning("failed sign-in count unavailable in Redis; counted in memory", extra=extra)


def make_throttle(
    redis: aioredis.Redis | None, prefix: str, metrics: GatewayMetrics, scope: str = "admin"
) -> LoginThrottle:
    """Wrong tokens counted in Redis (every replica) when there is one, else in this process."""
    return RedisThrottle(redis, prefix, metrics, scope) if redis is not None else MemoryThrottle()
