"""Retention on a schedule: old logs, ended admin sessions and old batch ids go, in one replica only.

The replica holding the ``retention`` lease row runs the job; it renews the lease on every run, and
another replica takes over only when the lease has run out (the holder stopped).
"""

import asyncio
import logging
import os
import secrets
import socket
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gempool.config import logquery, sessions
from gempool.config.models import ErrorLog, Lease, LogBatch, RequestLog, RequestStats, utcnow
from gempool.config.revisions import current_settings
from gempool.config.store import Store

log = logging.getLogger(__name__)

LEASE = "retention"
BATCH_IDS_KEPT = timedelta(days=2)
STATS_KEPT = timedelta(days=400)  # hourly request statistics: a year and a bit


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def take_lease(session: Session, name: str, holder: str, ttl: timedelta) -> bool:
    """Hold (or renew) the lease unless another holder's lease is still running."""
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Lease).values(name=name, holder="", expires_at=now).on_conflict_do_nothing()
    )
    free = (Lease.holder == holder) | (Lease.expires_at <= now)
    taken = session.execute(
        update(Lease).where(Lease.name == name, free).values(holder=holder, expires_at=now + ttl)
    )
    return bool(cast(CursorResult[Any], taken).rowcount)


Due = dict[str, tuple[Any, ColumnElement[bool]]]


def due(session: Session) -> Due:
    """What to delete now, by table: (primary key column, condition)."""
    settings, now = current_settings(session), utcnow()
    out: Due = {
        "log_batches": (LogBatch.batch_id, LogBatch.at < now - BATCH_IDS_KEPT),
        "request_stats": (RequestStats.hour, RequestStats.hour < now - STATS_KEPT),
    }
    if settings.AUTO_DELETE_ERROR_LOGS_ENABLED:
        days = settings.AUTO_DELETE_ERROR_LOGS_DAYS
        out["error_logs"] = (ErrorLog.id, ErrorLog.at < now - timedelta(days=days))
    if settings.AUTO_DELETE_REQUEST_LOGS_ENABLED:
        days = settings.AUTO_DELETE_REQUEST_LOGS_DAYS
        out["request_logs"] = (RequestLog.id, RequestLog.at < now - timedelta(days=days))
    return out


class Retention:
    def __init__(self, store: Store, interval: float, holder: str | None = None) -> None:
        self.store, self.interval = store, interval
        self.holder = holder or holder_name()
        self.stopping = False

    def run_once(self) -> dict[str, int] | None:
        """Delete what is due; None when another replica holds the lease."""
        ttl = timedelta(seconds=self.interval * 2 + 60)
        if not self.store.run(take_lease, LEASE, self.holder, ttl):
            return None
        deleted = {"admin_sessions": self.store.run(sessions.purge_expired)}
        for name, (key, condition) in self.store.run(due).items():
            deleted[name] = self._delete(key, condition)
        return deleted

    def _delete(self, key: Any, condition: ColumnElement[bool]) -> int:
        """Chunk by chunk, each in its own short transaction, until done or stopping."""
        total = 0
        while not self.stopping and (chunk := self.store.run(logquery.delete_chunk, key, condition)):
            total += chunk
        return total

    async def loop(self, first_delay: float = 60.0) -> None:
        """Run now and then until cancelled; a cancel waits for the current chunk to commit."""
        await asyncio.sleep(min(first_delay, self.interval))
        while True:
            run = asyncio.ensure_future(asyncio.to_thread(self._logged_run))
            try:
                await asyncio.shield(run)
            except asyncio.CancelledError:
                self.stopping = True
                await run
                raise
            await asyncio.sleep(self.interval)

    def _logged_run(self) -> None:
        try:
            deleted = self.run_once()
        except Exception as exc:  # a database hiccup must not end the schedule
            log.warning("retention run failed", extra={"error": repr(exc)})
            return
        if deleted and any(deleted.values()):
            log.info("retention deleted old records", extra={"deleted": deleted})
