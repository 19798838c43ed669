"""Key records as the config service stores them, and the rings a lease rotates over."""

from collections.abc import Iterable
from dataclasses import dataclass

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2

POOL_OF_KIND = {
    config_pb2.KEY_KIND_UNSPECIFIED: keypool_pb2.POOL_UNSPECIFIED,
    config_pb2.KEY_KIND_PAID: keypool_pb2.POOL_PAID,
    config_pb2.KEY_KIND_VERTEX: keypool_pb2.POOL_VERTEX,
}
POOL_NAMES = {
    keypool_pb2.POOL_UNSPECIFIED: "free",
    keypool_pb2.POOL_PAID: "paid",
    keypool_pb2.POOL_VERTEX: "vertex",
}


@dataclass(slots=True)
class KeyRecord:
    key_id: str
    api_key: str
    pool: keypool_pb2.Pool.ValueType
    status: config_pb2.KeyStatus.ValueType
    reason: str = ""
    tags: tuple[str, ...] = ()
    changed_at: float = 0.0

    @property
    def active(self) -> bool:
        return self.status == config_pb2.KEY_STATUS_ACTIVE

    @classmethod
    def from_proto(cls, rec: config_pb2.KeyRecord) -> "KeyRecord":
        status = rec.status or config_pb2.KEY_STATUS_ACTIVE
        return cls(
            key_id=rec.key_id,
            api_key=rec.api_key,
            pool=POOL_OF_KIND.get(rec.kind, keypool_pb2.POOL_UNSPECIFIED),
            status=status,
            reason=rec.reason,
            tags=tuple(rec.tags),
            changed_at=rec.changed_at_unix,
        )


def ring_name(pool: keypool_pb2.Pool.ValueType, tag: str = "") -> str:
    """The rotation a lease walks: one per pool, and one per (pool, tag)."""
    name = POOL_NAMES.get(pool, "free")
    return f"{name}:t:{tag}" if tag else name


def build_rings(records: Iterable[KeyRecord]) -> dict[str, list[str]]:
    """Active keys per ring, sorted by key_id so every replica builds the same rings."""
    rings: dict[str, list[str]] = {ring_name(pool): [] for pool in POOL_NAMES}
    for rec in sorted(records, key=lambda r: r.key_id):
        if not rec.active:
            continue
        rings[ring_name(rec.pool)].append(rec.key_id)
        for tag in rec.tags:
            rings.setdefault(ring_name(rec.pool, tag), []).append(rec.key_id)
    return rings
