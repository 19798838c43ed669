"""The Redis store: any number of keypool replicas share rotation, cooldowns and retirement."""

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from . import lua
from .base import (
    HOUR,
    MINUTE,
    OUTCOME_TTL,
    PROVEN_LOOKAHEAD,
    PROVEN_SECONDS,
    Cooldown,
    KeyLive,
    Pick,
    RetiredMark,
    StatusChange,
    day_uses,
    sliding,
)
from .names import Names

BATCH = 500
# First-attempt leases for one (ring, model) that arrive while a lease script runs share the next
# script call, up to this many: under load one Redis round trip serves a whole group.
LEASE_GROUP = 64
MAX_CONNECTIONS = 32
POOL_WAIT = 5.0


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _mark(value: bytes | str | None) -> RetiredMark | None:
    if value is None:
        return None
    at, _, reason = _text(value).partition("|")
    return RetiredMark(int(at) / 1000, reason)


class RedisStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.redis = client
        self.names = Names(prefix)
        self._lease = client.register_script(lua.LEASE)
        self._lease_many = client.register_script(lua.LEASE_MANY)
        self._waiting: dict[tuple[str, str], list[asyncio.Future[Pick]]] = {}
        self._leasing: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._sync = client.register_script(lua.SYNC_RINGS)
        self._cool = client.register_script(lua.COOL)
        self._claim = client.register_script(lua.CLAIM)
        self._success = client.register_script(lua.SUCCESS)
        self._keep_status = client.register_script(lua.KEEP_STATUS)
        self._drop_status = client.register_script(lua.DROP_STATUS)

    @classmethod
    def from_url(cls, url: str, prefix: str, max_connections: int = MAX_CONNECTIONS) -> "RedisStore":
        """Callers beyond ``max_connections`` wait for a free connection rather than fail."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=POOL_WAIT,
            # A connection a Redis restart cut fails its next command: one retry on a new one.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        return cls(aioredis.Redis.from_pool(pool), prefix)

    async def sync_rings(self, revision: int, rings: Mapping[str, Sequence[str]]) -> bool:
        names = list(rings)
        keys = [self.names.rings_revision(), self.names.rings(), self.names.exhausted()]
        keys += [self.names.ring(name) for name in names]
        args: list[str | int] = [revision, *(len(rings[name]) for name in names)]
        for name in names:
            args.extend(rings[name])
        return bool(await self._sync(keys=keys, args=args))

    async def intact(self) -> bool:
        return bool(await self.redis.exists(self.names.rings_revision()))

    async def lease(self, ring: str, model: str, exclude: Sequence[str], retry: bool = False) -> Pick:
        if retry or exclude:
            return await self._lease_one(ring, model, exclude, retry)
        which = (ring, model)
        future: asyncio.Future[Pick] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(which, []).append(future)
        if which not in self._leasing:
            task = asyncio.create_task(self._lease_groups(which), name=f"lease {ring}|{model}")
            self._leasing[which] = task
        return await future

    async def _lease_groups(self, which: tuple[str, str]) -> None:
        """Serve the waiting first attempts of (ring, model), a group per script call, until none wait."""
        group: list[asyncio.Future[Pick]] = []
        try:
            while waiting := self._waiting.pop(which, None):
                group, rest = waiting[:LEASE_GROUP], waiting[LEASE_GROUP:]
                if rest:
                    self._waiting[which] = rest
                try:
                    picks = await self._lease_first(*which, len(group))
                except Exception as exc:  # every caller of the group sees the store's error
                    for future in group:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for future, pick in zip(group, picks, strict=True):
                        if not future.done():  # a caller that gave up leaves its key used
                            future.set_result(pick)
                group = []
        finally:
            # Synchronous from the last empty pop on: a lease arriving later starts its own task.
            del self._leasing[which]
            for future in group + self._waiting.pop(which, []):  # only when cancelled mid-way
                future.cancel()

    async def _lease_first(self, ring: str, model: str, count: int) -> list[Pick]:
        n = self.names
        keys = [n.ring(ring), n.rotation(ring, model), n.retired(), n.exhausted(), n.rings_revision()]
        found = await self._lease_many(keys=keys, args=[n.cooldown(model, ""), f"{ring}|{model}", count])
        if found[0] == 1:
            return [Pick(_text(key_id)) for key_id in found[1:]]
        return [_none(found)] * count

    async def _lease_one(self, ring: str, model: str, exclude: Sequence[str], retry: bool) -> Pick:
        n = self.names
        rotation = n.retry_rotation(ring, model) if retry else n.rotation(ring, model)
        keys = [n.ring(ring), rotation, n.retired(), n.exhausted(), n.rings_revision()]
        window: list[str | int] = [n.outcomes() if retry else "", model, PROVEN_SECONDS * 1000]
        args = [n.cooldown(model, ""), f"{ring}|{model}", *window, PROVEN_LOOKAHEAD, *exclude]
        found = await self._lease(keys=keys, args=args)
        if found[0] == 1:
            return Pick(_text(found[1]))
        return _none(found)

    async def check(self, key_id: str, model: str) -> Pick:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hexists(self.names.retired(), key_id)
        pipe.pttl(self.names.cooldown(model, key_id))
        retired, ttl = await pipe.execute()
        if retired:
            return Pick(None)
        return Pick(None, ttl / 1000, 1) if ttl > 0 else Pick(key_id)

    async def success(self, key_id: str, model: str) -> None:
        await self.success_many([(key_id, model)])

    async def success_many(self, reports: Sequence[tuple[str, str]]) -> None:
        if not reports:
            return
        now, n = time.time(), self.names
        keys = [n.failures(), n.uses(MINUTE, int(now // MINUTE)), n.uses(HOUR, int(now // HOUR))]
        args: list[str | int] = [2 * MINUTE + 5, 25 * HOUR + 5, OUTCOME_TTL]
        for key_id, model in reports:
            keys.append(n.outcomes(key_id))
            args += (key_id, model)
        await self._success(keys=keys, args=args)

    async def failure(self, key_id: str, error: str) -> int:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(self.names.failures(), key_id, 1)
        pipe.hset(self.names.last_error(), key_id, error)
        count, _ = await pipe.execute()
        return int(count)

    async def cool(
        self, key_id: str, model: str, seconds: float, reason: str, backoff_cap: float = 0.0
    ) -> float:
        n = self.names
        keys = [n.cooldown(model, key_id), n.cooldowns(key_id), n.outcomes(key_id)]
        ms, cap = max(1, int(seconds * 1000)), int(backoff_cap * 1000)
        return int(await self._cool(keys=keys, args=[ms, reason, model, cap, OUTCOME_TTL])) / 1000

    async def retire(self, key_id: str, reason: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(self.names.retired(), key_id, f"{int(time.time() * 1000)}|{reason}")
        pipe.hset(self.names.last_error(), key_id, reason)
        new, _ = await pipe.execute()
        return bool(new)

    async def clear(self, key_ids: Sequence[str]) -> None:
        for start in range(0, len(key_ids), BATCH):
            await self._clear_batch(key_ids[start : start + BATCH])
        await self.redis.delete(self.names.exhausted())

    async def _clear_batch(self, key_ids: Sequence[str]) -> None:
        read = self.redis.pipeline(transaction=False)
        for key_id in key_ids:
            read.hkeys(self.names.cooldowns(key_id))
        models = await read.execute()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.names.retired(), *key_ids)
        pipe.hdel(self.names.failures(), *key_ids)
        for key_id, cooling in zip(key_ids, models, strict=True):
            names = [self.names.cooldown(_text(m), key_id) for m in cooling]
            pipe.delete(self.names.cooldowns(key_id), self.names.outcomes(key_id), *names)
        await pipe.execute()

    async def retired_marks(self) -> dict[str, RetiredMark]:
        raw = await self.redis.hgetall(self.names.retired())
        return {_text(k): mark for k, v in raw.items() if (mark := _mark(v)) is not None}

    async def live(self, key_ids: Sequence[str]) -> dict[str, KeyLive]:
        out: dict[str, KeyLive] = {}
        for start in range(0, len(key_ids), BATCH):
            out.update(await self._live_batch(list(key_ids[start : start + BATCH]), time.time()))
        return out

    async def _live_batch(self, ids: list[str], now: float) -> dict[str, KeyLive]:
        n, minute, hour = self.names, int(now // MINUTE), int(now // HOUR)
        pipe = self.redis.pipeline(transaction=False)
        for names in (n.failures(), n.last_error(), n.retired()):
            pipe.hmget(names, ids)
        for bucket in (minute, minute - 1):
            pipe.hmget(n.uses(MINUTE, bucket), ids)
        for back in range(25):
            pipe.hmget(n.uses(HOUR, hour - back), ids)
        for key_id in ids:
            pipe.hgetall(n.cooldowns(key_id))
        res = await pipe.execute()
        return {key_id: _key_live(res, i, now) for i, key_id in enumerate(ids)}

    async def claim(self, name: str, interval: float) -> bool:
        return bool(await self._claim(keys=[self.names.lock(name)], args=[max(1, int(interval * 1000))]))

    async def keep_status(self, key_id: str, status: int, reason: str) -> StatusChange:
        keys = [self.names.outbox(), self.names.outbox_seq()]
        seq = int(await self._keep_status(keys=keys, args=[key_id, status, reason]))
        return StatusChange(key_id, status, reason, seq)

    async def kept_statuses(self) -> list[StatusChange]:
        changes = []
        for key_id, value in (await self.redis.hgetall(self.names.outbox())).items():
            seq, status, reason = _text(value).split("|", 2)
            changes.append(StatusChange(_text(key_id), int(status), reason, int(seq)))
        return sorted(changes, key=lambda c: c.seq)

    async def drop_status(self, change: StatusChange) -> None:
        await self._drop_status(keys=[self.names.outbox()], args=[change.key_id, change.seq])

    async def close(self) -> None:
        for task in list(self._leasing.values()):
            task.cancel()
        await self.redis.aclose()


def _none(found: list[Any]) -> Pick:
    """A lease script's answer without a key: {0, ms to wait, keys cooling}, or {-1, ...}: lost."""
    if int(found[0]) < 0:
        return Pick(None, lost=True)
    return Pick(None, int(found[1]) / 1000, int(found[2]))


def _key_live(res: list[Any], i: int, now: float) -> KeyLive:
    """Key ``i`` of a ``_live_batch`` pipeline: failures, errors, marks, 2 minutes, 25 hours, cooldowns."""
    minutes, hours = res[3:5], res[5:30]
    return KeyLive(
        failures=int(res[0][i] or 0),
        last_error=_text(res[1][i]),
        retired=_mark(res[2][i]),
        cooldowns=_cooldowns(res[30 + i], now),
        uses_last_minute=sliding(int(minutes[0][i] or 0), int(minutes[1][i] or 0), now, MINUTE),
        uses_last_day=day_uses([int(h[i] or 0) for h in hours], now),
    )


def _cooldowns(raw: Mapping[bytes, bytes], now: float) -> list[Cooldown]:
    out = []
    for model, value in raw.items():
        until, _, reason = _text(value).partition("|")
        if int(until) / 1000 > now:
            out.append(Cooldown(_text(model), int(until) / 1000, reason))
    return out
