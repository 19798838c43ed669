"""Shared key state behind a small interface: Redis (many replicas) or memory (one node)."""

from .base import Cooldown, KeyLive, Pick, RetiredMark, Store
from .memory import MemoryStore
from .redis import RedisStore

__all__ = ["Cooldown", "KeyLive", "MemoryStore", "Pick", "RedisStore", "RetiredMark", "Store", "open_store"]


def open_store(redis_url: str, prefix: str) -> Store:
    """Redis when a URL is given, otherwise memory."""
    return RedisStore.from_url(redis_url, prefix) if redis_url else MemoryStore()
