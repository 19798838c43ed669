"""Admin sessions as this replica knows them: a short cache in front of the config service, and the
revocations that end a cached session on every replica at once.

The config service holds every session; a replica trusts a session it checked for
``SESSION_CACHE_SECONDS`` before asking again. A logout (or the end of a session) is written to
Redis as a short-lived revocation, and a replica looks for one on each cache hit (one EXISTS, far
cheaper than asking the config service), so a session ended on one replica is refused by all at
once. Without Redis (one node) dropping the local entry is enough.
"""

import logging
import time
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from gempool.gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

SESSION_CACHE_SECONDS = 5.0  # how long a replica trusts a checked session before asking again
# A revocation outlives every cache entry that could still hold the session: one made from a check
# that was under way when the session ended (config calls time out after 5 s) lasts 5 s more.
REVOKED_SECONDS = 60

Check = Callable[[str], Awaitable[float | None]]  # digest -> when the session ends, or None


class Revocations:
    """Sessions ended lately, in Redis: every replica sees them."""

    def __init__(self, redis: aioredis.Redis, prefix: str, metrics: GatewayMetrics) -> None:
        self._redis = redis
        self._prefix = prefix
        self._metrics = metrics

    def name(self, session_digest: str) -> str:
        return f"{self._prefix}admin:revoked:{session_digest}"

    async def revoke(self, session_digest: str) -> None:
        try:
            await self._redis.set(self.name(session_digest), 1, ex=REVOKED_SECONDS)
        except (RedisError, OSError) as exc:
            self._trouble(exc)

    async def may_trust(self, session_digest: str) -> bool:
        """False when the session was revoked, or when Redis cannot tell (then ask the config)."""
        try:
            return not await self._redis.exists(self.name(session_digest))
        except (RedisError, OSError) as exc:
            self._trouble(exc)
            return False

    def _trouble(self, exc: BaseException) -> None:
        self._metrics.admin_redis_errors.inc()
        log.warning("admin session revocations unavailable in Redis", extra={"error": repr(exc)})


class SessionCache:
    """Sessions this replica checked lately: digest -> (trusted until, session end)."""

    def __init__(self, revocations: Revocations | None = None) -> None:
        self._known: dict[str, tuple[float, float]] = {}
        self._revocations = revocations

    async def expires_at(self, session_digest: str, check: Check) -> float | None:
        """When the session ends, or None when it is unknown, over or revoked."""
        now = time.monotonic()
        known = self._known.get(session_digest)
        if known is not None and known[0] > now and known[1] > time.time():
            if self._revocations is None or await self._revocations.may_trust(session_digest):
                return known[1]
        expires = await check(session_digest)
        if expires is None:
            self._known.pop(session_digest, None)
            return None
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[session_digest] = (now + SESSION_CACHE_SECONDS, expires)
        return expires

    def forget(self, session_digest: str) -> None:
        self._known.pop(session_digest, None)

    async def revoke(self, session_digest: str) -> None:
        """End the session here and, through Redis, on every other replica."""
        self.forget(session_digest)
        if self._revocations is not None:
            await self._revocations.revoke(session_digest)

    def clear(self) -> None:
        """Forget every session (the admin token changed: the config service ended them all)."""
        self._known.clear()
