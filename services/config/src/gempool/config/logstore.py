"""Batch inserts of request and error logs, each batch stored once."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import mask
from gempool.common.scrub import scrub
from gempool.config import tokenstore
from gempool.config.models import ErrorLog, LogBatch, RequestLog, RequestStats, utcnow

STATS_SUMS = ("calls", "success", "tokens_in", "tokens_out", "latency_seconds", "rate_limited", "retried")


def when(at_unix: float) -> datetime:
    return datetime.fromtimestamp(at_unix, UTC) if at_unix > 0 else utcnow()


def masked(value: str) -> str:
    """Writers send masked keys; a whole key that slips through is masked here, never stored."""
    if not value or "..." in value or value.startswith("***("):
        return value
    return mask(value)


def request_row(log: config_pb2.RequestLog) -> dict[str, Any]:
    return {
        "at": when(log.at_unix),
        "token_name": log.token_name,
        "model": log.model,
        "dialect": log.dialect,
        "key_masked": masked(log.key_masked),
        "attempts": log.attempts,
        "status": log.status,
        "latency_seconds": log.latency_seconds,
        "first_byte_seconds": log.first_byte_seconds,
        "tokens_in": log.tokens_in,
        "tokens_out": log.tokens_out,
        "request_id": log.request_id,
        "key_id": log.key_id[:64],
    }


def error_row(log: config_pb2.ErrorLog) -> dict[str, object]:
    return {
        "at": when(log.at_unix),
        "key_masked": masked(log.key_masked),
        "model": log.model,
        "status": log.status,
        "error_code": log.error_code,
        "message": scrub(log.message),  # the gateway scrubs too; a key never reaches the db
        "request_body": scrub(log.request_body),
        "request_id": log.request_id,
        "token_name": log.token_name,
        "key_id": log.key_id[:64],
    }


def first_time(session: Session, batch_id: str) -> bool:
    """Claim ``batch_id``; False when it was stored before (a writer retried after a lost answer)."""
    if not batch_id:
        return True
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claim = dialect.insert(LogBatch).values(batch_id=batch_id[:64], at=utcnow())
    claimed = claim.on_conflict_do_nothing(index_elements=["batch_id"]).returning(LogBatch.batch_id)
    return session.scalar(claimed) is not None


def last_used(rows: Sequence[dict[str, Any]]) -> dict[str, datetime]:
    latest: dict[str, datetime] = {}
    for row in rows:
        name, at = row["token_name"], row["at"]
        assert isinstance(name, str) and isinstance(at, datetime)
        if name and (name not in latest or latest[name] < at):
            latest[name] = at
    return latest


def hourly_sums(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch summed per (UTC hour, model, masked key, token, key_id), in key order (so replicas
    lock in order)."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        hour = row["at"].replace(minute=0, second=0, microsecond=0)
        group = (hour, row["model"], row["key_masked"], row["token_name"], row["key_id"])
        total = sums.setdefault(group, [0, 0, 0, 0, 0.0, 0, 0])
        counted = (row["status"] == 200, row["tokens_in"], row["tokens_out"], row["latency_seconds"])
        for n, value in enumerate((1, *counted, row["status"] == 429, row["attempts"] > 1)):
            total[n] += value
    names = ("hour", "model", "key_masked", "token_name", "key_id", *STATS_SUMS)
    return [dict(zip(names, (*key, *total), strict=True)) for key, total in sorted(sums.items())]


def add_to_stats(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(RequestStats)
    upsert = upsert.on_conflict_do_update(
        index_elements=["hour", "model", "key_masked", "token_name", "key_id"],
        set_={name: getattr(RequestStats, name) + getattr(upsert.excluded, name) for name in STATS_SUMS},
    )
    session.execute(upsert, hourly_sums(rows))


def write_logs(
    session: Session,
    requests: Sequence[config_pb2.RequestLog],
    errors: Sequence[config_pb2.ErrorLog],
    batch_id: str = "",
) -> tuple[int, bool]:
    """Insert a batch; returns (rows stored, whether the batch had been stored before)."""
    if not first_time(session, batch_id):
        return 0, True
    if requests:
        rows = [request_row(log) for log in requests]
        session.execute(insert(RequestLog), rows)
        add_to_stats(session, rows)
        tokenstore.touch(session, last_used(rows))
    if errors:
        session.execute(insert(ErrorLog), [error_row(log) for log in errors])
    return len(requests) + len(errors), False
