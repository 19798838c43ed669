"""The in-memory store: one keypool replica, the same semantics as Redis."""

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .base import (
    HOUR,
    MINUTE,
    PROVEN_LOOKAHEAD,
    PROVEN_SECONDS,
    Cooldown,
    KeyLive,
    Pick,
    RetiredMark,
    StatusChange,
    backed_off,
    day_uses,
    sliding,
)


@dataclass(frozen=True, slots=True)
class _Last:
    """The last outcome of (key, model): a success at ``ok_at``, or a cooldown (``length`` 0: no backoff)."""

    ok_at: float = 0.0
    length: float = 0.0
    until: float = 0.0


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._revision = -1
        self._rings: dict[str, list[str]] = {}
        self._rotation: dict[tuple[str, str, bool], int] = {}  # (ring, model, retry)
        self._last: dict[str, dict[str, _Last]] = defaultdict(dict)  # key_id -> model -> outcome
        self._cooldowns: dict[str, dict[str, Cooldown]] = defaultdict(dict)
        self._retired: dict[str, RetiredMark] = {}
        self._failures: dict[str, int] = {}
        self._last_error: dict[str, str] = {}
        self._uses: dict[tuple[str, int, int], int] = defaultdict(int)  # (key_id, width, bucket)
        self._exhausted: dict[tuple[str, str], float] = {}
        self._minute = 0
        self._claims: dict[str, float] = {}
        self._synced = False
        self._outbox: dict[str, StatusChange] = {}
        self._outbox_seq = 0

    async def sync_rings(self, revision: int, rings: Mapping[str, Sequence[str]]) -> bool:
        if revision < self._revision:
            return False
        self._revision, self._synced = revision, True
        self._rings = {name: list(ids) for name, ids in rings.items()}
        self._exhausted.clear()
        return True

    async def lease(self, ring: str, model: str, exclude: Sequence[str], retry: bool = False) -> Pick:
        now = self._clock()
        hint = self._exhausted.get((ring, model), 0.0)
        if hint > now:
            return Pick(None, hint - now, 1)
        ids, turn = self._rings.get(ring, []), (ring, model, retry)
        if not ids and not self._synced:
            return Pick(None, lost=True)
        n, skip = len(ids), set(exclude)
        start = self._rotation.get(turn, 0) % n if n else 0
        limit, step, candidate, fallback, soonest, cooling = n, 0, -1, -1, 0.0, 0
        while step < limit:
            pos = (start + step) % n
            key_id, step = ids[pos], step + 1
            if key_id in self._retired:
                continue
            until = self._cooling_until(key_id, model, now)
            if until:
                cooling += 1
                soonest = until if not soonest else min(soonest, until)
            elif key_id in skip:
                fallback = pos if fallback < 0 else fallback
            elif not retry or self._proven(key_id, model, now):
                return self._picked(turn, pos, n, key_id)
            elif candidate < 0:
                candidate, limit = pos, min(n, step + PROVEN_LOOKAHEAD)
        for chosen in (candidate, fallback):
            if chosen >= 0:
                return self._picked(turn, chosen, n, ids[chosen])
        if cooling:
            self._exhausted[(ring, model)] = soonest
            return Pick(None, soonest - now, cooling)
        return Pick(None)

    def _proven(self, key_id: str, model: str, now: float) -> bool:
        last = self._last[key_id].get(model) if key_id in self._last else None
        return last is not None and last.ok_at > 0 and last.ok_at >= now - PROVEN_SECONDS

    async def check(self, key_id: str, model: str) -> Pick:
        if key_id in self._retired:
            return Pick(None)
        now = self._clock()
        until = self._cooling_until(key_id, model, now)
        return Pick(None, until - now, 1) if until else Pick(key_id)

    def _picked(self, turn: tuple[str, str, bool], pos: int, n: int, key_id: str) -> Pick:
        self._rotation[turn] = (pos + 1) % n
        return Pick(key_id)

    def _cooling_until(self, key_id: str, model: str, now: float) -> float:
        cooldown = self._cooldowns[key_id].get(model) if key_id in self._cooldowns else None
        if cooldown is None:
            return 0.0
        if cooldown.until <= now:
            del self._cooldowns[key_id][model]
            return 0.0
        return cooldown.until

    async def success(self, key_id: str, model: str) -> None:
        self._success(key_id, model, self._clock())

    async def success_many(self, reports: Sequence[tuple[str, str]]) -> None:
        now = self._clock()
        for key_id, model in reports:
            self._success(key_id, model, now)

    def _success(self, key_id: str, model: str, now: float) -> None:
        self._failures.pop(key_id, None)
        minute = int(now // MINUTE)
        if minute != self._minute:
            self._prune(minute)
        self._uses[(key_id, MINUTE, minute)] += 1
        self._uses[(key_id, HOUR, int(now // HOUR))] += 1
        last = self._last[key_id].get(model)
        if last is None or last.ok_at or last.until <= now:  # a late success leaves a cooldown alone
            self._last[key_id][model] = _Last(ok_at=now)

    def _prune(self, minute: int) -> None:
        """Drop usage buckets older than any window reads (once a minute)."""
        self._minute = minute
        hour = minute * MINUTE // HOUR
        oldest = {MINUTE: minute - 1, HOUR: hour - 24}
        for stale in [k for k in self._uses if k[2] < oldest[k[1]]]:
            del self._uses[stale]

    async def failure(self, key_id: str, error: str) -> int:
        self._failures[key_id] = self._failures.get(key_id, 0) + 1
        self._last_error[key_id] = error
        return self._failures[key_id]

    async def cool(
        self, key_id: str, model: str, seconds: float, reason: str, backoff_cap: float = 0.0
    ) -> float:
        now = self._clock()
        running = self._cooling_until(key_id, model, now)
        if running >= now + seconds:
            return running - now
        last = self._last[key_id].get(model)
        if not running and backoff_cap > 0 and last is not None and not last.ok_at:
            if last.until <= now < last.until + last.length:  # failed again on probation
                seconds = backed_off(seconds, last.length, backoff_cap)
        self._cooldowns[key_id][model] = Cooldown(model, now + seconds, reason)
        self._last[key_id][model] = _Last(length=seconds if backoff_cap > 0 else 0.0, until=now + seconds)
        return seconds

    async def retire(self, key_id: str, reason: str) -> bool:
        if key_id in self._retired:
            return False
        self._retired[key_id] = RetiredMark(self._clock(), reason)
        self._last_error[key_id] = reason
        return True

    async def clear(self, key_ids: Sequence[str]) -> None:
        for key_id in key_ids:
            self._retired.pop(key_id, None)
            self._failures.pop(key_id, None)
            self._cooldowns.pop(key_id, None)
            self._last.pop(key_id, None)
        self._exhausted.clear()

    async def retired_marks(self) -> dict[str, RetiredMark]:
        return dict(self._retired)

    async def live(self, key_ids: Sequence[str]) -> dict[str, KeyLive]:
        now = self._clock()
        return {key_id: self._live_one(key_id, now) for key_id in key_ids}

    def _live_one(self, key_id: str, now: float) -> KeyLive:
        minute, hour = int(now // MINUTE), int(now // HOUR)
        cooldowns = self._cooldowns.get(key_id, {})
        return KeyLive(
            failures=self._failures.get(key_id, 0),
            last_error=self._last_error.get(key_id, ""),
            retired=self._retired.get(key_id),
            cooldowns=[c for c in cooldowns.values() if c.until > now],
            uses_last_minute=sliding(
                self._uses.get((key_id, MINUTE, minute), 0),
                self._uses.get((key_id, MINUTE, minute - 1), 0),
                now,
                MINUTE,
            ),
            uses_last_day=day_uses([self._uses.get((key_id, HOUR, hour - i), 0) for i in range(25)], now),
        )

    async def claim(self, name: str, interval: float) -> bool:
        now = self._clock()
        if now - self._claims.get(name, -float("inf")) < interval:
            return False
        self._claims[name] = now
        return True

    async def intact(self) -> bool:
        return self._synced

    async def keep_status(self, key_id: str, status: int, reason: str) -> StatusChange:
        self._outbox_seq += 1
        change = self._outbox[key_id] = StatusChange(key_id, status, reason, self._outbox_seq)
        return change

    async def kept_statuses(self) -> list[StatusChange]:
        return sorted(self._outbox.values(), key=lambda c: c.seq)

    async def drop_status(self, change: StatusChange) -> None:
        if self._outbox.get(change.key_id) == change:
            del self._outbox[change.key_id]

    async def close(self) -> None:
        return None
