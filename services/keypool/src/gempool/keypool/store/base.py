"""The store interface every implementation honours (the contract tests run against each)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

MINUTE = 60
HOUR = 3600
# A retry prefers keys whose last outcome for the model was a success no older than this.
PROVEN_SECONDS = 10 * MINUTE
# How far a retry looks past the first eligible key for a proven one (keeps a lease cheap).
PROVEN_LOOKAHEAD = 100
# How long the store remembers a key's last outcome for a model (Redis hash TTL).
OUTCOME_TTL = 26 * HOUR


@dataclass(frozen=True, slots=True)
class Pick:
    """A lease decision: a key_id, or none with the seconds until the earliest cooldown ends."""

    key_id: str | None
    retry_after: float = 0.0
    cooling: int = 0  # keys of the ring that cool for this model (when none was picked)
    lost: bool = False  # the store holds no rings at all: never written, or lost (Redis restarted)


@dataclass(frozen=True, slots=True)
class RetiredMark:
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class Cooldown:
    model: str
    until: float
    reason: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A key status change kept until the config service has recorded it; ``seq`` orders them."""

    key_id: str
    status: int  # config_pb2.KeyStatus
    reason: str
    seq: int = 0


@dataclass(slots=True)
class KeyLive:
    """What the store knows about one key right now."""

    failures: int = 0
    last_error: str = ""
    retired: RetiredMark | None = None
    cooldowns: list[Cooldown] = field(default_factory=list)
    uses_last_minute: int = 0
    uses_last_day: int = 0


class Store(Protocol):
    async def sync_rings(self, revision: int, rings: Mapping[str, Sequence[str]]) -> bool:
        """Replace the rings unless a newer revision is stored; True when written."""

    async def intact(self) -> bool:
        """False when no rings were ever written, or the store lost them (a Redis restart)."""

    async def lease(self, ring: str, model: str, exclude: Sequence[str], retry: bool = False) -> Pick:
        """Next key of ``ring`` not retired and not cooling for ``model``; atomic across replicas.

        Excluded keys are skipped while another key is eligible. A first attempt is plain round
        robin. A ``retry`` (the request already failed on some key) rotates on its own position
        and takes the first eligible key that is proven for ``model`` (its last outcome for it was
        a success within PROVEN_SECONDS), looking at most PROVEN_LOOKAHEAD keys past the first
        eligible one, which it takes when none is proven. ``Pick.lost`` when the store holds no
        rings at all (see ``intact``), so a lost state costs no extra round trip to notice.
        """

    async def check(self, key_id: str, model: str) -> Pick:
        """This one key if it is neither retired nor cooling for ``model`` (no rotation)."""

    async def success(self, key_id: str, model: str) -> None:
        """Reset consecutive failures, count one use, and mark the key proven for ``model``.

        A success reported while the key cools for ``model`` (an attempt that began before the
        429) changes neither that cooldown nor its backoff.
        """

    async def success_many(self, reports: Sequence[tuple[str, str]]) -> None:
        """``success`` for each (key_id, model), in order, in one round trip."""

    async def failure(self, key_id: str, error: str) -> int:
        """Count one consecutive failure; returns the count."""

    async def cool(
        self, key_id: str, model: str, seconds: float, reason: str, backoff_cap: float = 0.0
    ) -> float:
        """Cool (key, model); a longer cooldown already running is kept. Returns the seconds it cools.

        With ``backoff_cap``, a key cooled again while on probation (within one cooldown length
        after its last cooldown ended, no success since) cools ``backed_off`` seconds.
        """

    async def retire(self, key_id: str, reason: str) -> bool:
        """Mark the key retired for every model; True when it was not retired yet."""

    async def clear(self, key_ids: Sequence[str]) -> None:
        """Forget failures, cooldowns and retirement of these keys."""

    async def retired_marks(self) -> dict[str, RetiredMark]: ...

    async def live(self, key_ids: Sequence[str]) -> dict[str, KeyLive]: ...

    async def claim(self, name: str, interval: float) -> bool:
        """True for one caller per ``interval`` seconds across replicas (a lock that expires).

        ``interval`` is read at each call, so a shorter one takes effect at once.
        """

    async def keep_status(self, key_id: str, status: int, reason: str) -> StatusChange:
        """Keep a status change until it is delivered; a later change of the same key replaces it."""

    async def kept_statuses(self) -> list[StatusChange]:
        """The changes kept, oldest first (at most one per key: the outbox is bounded by the keys)."""

    async def drop_status(self, change: StatusChange) -> None:
        """Forget ``change`` (delivered), unless a later change of its key replaced it meanwhile."""

    async def close(self) -> None: ...


def backed_off(asked: float, last: float, cap: float) -> float:
    """A repeated cooldown: twice the last one up to ``cap``, never less than asked."""
    return max(asked, min(2 * last, cap))


def sliding(current: int, previous: int, now: float, width: int) -> int:
    """Estimate the count of the last ``width`` seconds from two fixed buckets."""
    elapsed = (now % width) / width
    return current + round(previous * (1 - elapsed))


def day_uses(hourly: Sequence[int], now: float) -> int:
    """Uses of the last 24 h from 25 hourly buckets, newest first."""
    return sum(hourly[:24]) + sliding(0, hourly[24] if len(hourly) > 24 else 0, now, HOUR)
