"""Key records: paged listing, bulk add, remove and durable status changes (all on a Session)."""

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import key_id
from gempool.config.models import ApiKey, utcnow

KIND_TO_DB = {
    config_pb2.KEY_KIND_UNSPECIFIED: "free",
    config_pb2.KEY_KIND_PAID: "paid",
    config_pb2.KEY_KIND_VERTEX: "vertex",
}
STATUS_TO_DB = {
    config_pb2.KEY_STATUS_ACTIVE: "active",
    config_pb2.KEY_STATUS_RETIRED: "retired",
    config_pb2.KEY_STATUS_DISABLED: "disabled",
}
KIND_FROM_DB = {v: k for k, v in KIND_TO_DB.items()}
STATUS_FROM_DB = {v: k for k, v in STATUS_TO_DB.items()}
# Bound parameters per statement stay far below every backend's limit.
CHUNK = 500


class KeyInput(NamedTuple):
    api_key: str
    kind: str = "free"
    tags: Sequence[str] = ()


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def to_record(row: ApiKey) -> config_pb2.KeyRecord:
    return config_pb2.KeyRecord(
        key_id=row.key_id,
        api_key=row.api_key,
        kind=KIND_FROM_DB.get(row.kind, config_pb2.KEY_KIND_UNSPECIFIED),
        status=STATUS_FROM_DB.get(row.status, config_pb2.KEY_STATUS_UNSPECIFIED),
        reason=row.reason,
        tags=json.loads(row.tags),
        changed_at_unix=row.changed_at.timestamp(),
    )


def list_page(session: Session, page_size: int, after: str) -> tuple[list[config_pb2.KeyRecord], str]:
    """One page ordered by key_id, and the token of the next page ("" after the last one)."""
    query = select(ApiKey).where(ApiKey.key_id > after).order_by(ApiKey.key_id).limit(page_size + 1)
    rows = list(session.scalars(query))
    more = len(rows) > page_size
    rows = rows[:page_size]
    return [to_record(row) for row in rows], rows[-1].key_id if more else ""


def existing_ids(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(ids):
        found.update(session.scalars(select(ApiKey.key_id).where(ApiKey.key_id.in_(part))))
    return found


def unique_rows(keys: Iterable[KeyInput]) -> dict[str, dict[str, object]]:
    """Rows by key_id, blank keys dropped, the first of duplicates kept."""
    now = utcnow()
    rows: dict[str, dict[str, object]] = {}
    for key in keys:
        api_key = key.api_key.strip()
        if api_key and (kid := key_id(api_key)) not in rows:
            rows[kid] = {
                "key_id": kid,
                "api_key": api_key,
                "kind": key.kind,
                "status": "active",
                "reason": "",
                "tags": json.dumps(list(key.tags)),
                "created_at": now,
                "changed_at": now,
            }
    return rows


def add_keys(session: Session, keys: Iterable[KeyInput]) -> tuple[int, int]:
    """Insert new keys; returns (added, already present). A key added meanwhile by a replica is skipped."""
    rows = unique_rows(keys)
    existing = existing_ids(session, list(rows))
    new = [row for kid, row in rows.items() if kid not in existing]
    if new:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(ApiKey).on_conflict_do_nothing(index_elements=["key_id"]), new)
    return len(new), len(existing)


def remove_keys(session: Session, ids: Sequence[str]) -> int:
    removed = 0
    for part in chunks(sorted(set(ids))):
        query = delete(ApiKey).where(ApiKey.key_id.in_(part)).returning(ApiKey.key_id)
        removed += len(session.scalars(query).all())
    return removed


def set_status(session: Session, kid: str, status: str, reason: str) -> bool:
    query = (
        update(ApiKey)
        .where(ApiKey.key_id == kid)
        .values(status=status, reason=reason, changed_at=utcnow())
        .returning(ApiKey.key_id)
    )
    return session.execute(query).first() is not None


def set_many_status(session: Session, ids: Sequence[str], status: str, reason: str) -> set[str]:
    """The key_ids found and changed."""
    found: set[str] = set()
    for part in chunks(sorted(set(ids))):
        query = (
            update(ApiKey)
            .where(ApiKey.key_id.in_(part))
            .values(status=status, reason=reason, changed_at=utcnow())
            .returning(ApiKey.key_id)
        )
        found.update(session.scalars(query).all())
    return found


def all_key_ids(session: Session) -> set[str]:
    return set(session.scalars(select(ApiKey.key_id)))


def tag_keys(session: Session, ids: Sequence[str], add: Sequence[str], remove: Sequence[str]) -> int:
    """Add and remove tags (blank ones ignored); returns how many keys changed."""
    added = [t.strip() for t in add if t.strip()]
    gone = {t.strip() for t in remove}
    changed = 0
    for part in chunks(sorted(set(ids))):
        for row in session.scalars(select(ApiKey).where(ApiKey.key_id.in_(part))):
            old = json.loads(row.tags)
            new = [t for t in old if t not in gone]
            new += [t for t in added if t not in new]
            if new != old:
                row.tags, row.changed_at, changed = json.dumps(new), utcnow(), changed + 1
    session.flush()
    return changed
