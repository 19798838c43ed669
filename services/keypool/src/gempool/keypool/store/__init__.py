"""Shared key state behind a small interface: Redis (many replicas) or memory (one node)."""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import Cooldown, KeyLive, Pick, RetiredMark, StatusChange, Store
from .memory import MemoryStore
from .redis import RedisStore

__all__ = [
    "UNREACHABLE",
    "Cooldown",
    "KeyLive",
    "MemoryStore",
    "Pick",
    "RedisStore",
    "RetiredMark",
    "StatusChange",
    "Store",
    "open_store",
]

# What a store raises when it cannot be reached (Redis down, restarting, a connection cut).
UNREACHABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


def open_store(redis_url: str, prefix: str) -> Store:
    """Redis when a URL is given, otherwise memory."""
    return RedisStore.from_url(redis_url, prefix) if redis_url else MemoryStore()
