"""Retention deletes what the AUTO_DELETE_* settings say, in one replica at a time."""

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gempool.config import models, sessions
from gempool.config.models import utcnow
from gempool.config.retention import Retention
from gempool.config.store import Store


def ages(engine: Engine, model: type[models.RequestLog] | type[models.ErrorLog]) -> list[int]:
    with Session(engine) as session:
        return sorted((utcnow() - at).days for at in session.scalars(select(model.at)))


def add_rows(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as session, session.begin():
        for days in (1, 6, 8, 40):
            at = now - timedelta(days=days, minutes=1)
            session.add(
                models.ErrorLog(
                    at=at,
                    key_masked="",
                    model="m",
                    status=500,
                    error_code="",
                    message="",
                    request_body="",
                    request_id="",
                )
            )
            session.add(
                models.RequestLog(
                    at=at,
                    token_name="",
                    model="m",
                    dialect="gemini",
                    key_masked="",
                    attempts=1,
                    status=200,
                    latency_seconds=0.1,
                    first_byte_seconds=0.1,
                    tokens_in=0,
                    tokens_out=0,
                    request_id="",
                )
            )
        session.add(models.LogBatch(batch_id="old", at=now - timedelta(days=3)))
        for days in (1, 399, 401):
            hour = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
            session.add(
                models.RequestStats(
                    hour=hour,
                    model="m",
                    key_masked="k",
                    token_name="t",
                    calls=1,
                    success=1,
                    tokens_in=0,
                    tokens_out=0,
                    latency_seconds=0.1,
                )
            )
        session.add(models.LogBatch(batch_id="new", at=now))


def test_retention_follows_the_settings(make_store: Callable[..., Store], engine: Engine) -> None:
    store = make_store()
    add_rows(engine)
    store.run(sessions.create, "e" * 64, 0.001, "")
    first = Retention(store, interval=3600, holder="replica-1")
    # defaults: error logs kept 7 days, request logs kept for ever
    assert first.run_once() == {"admin_sessions": 1, "log_batches": 1, "request_stats": 1, "error_logs": 2}
    assert ages(engine, models.ErrorLog) == [1, 6]
    assert ages(engine, models.RequestLog) == [1, 6, 8, 40]
    with Session(engine) as session:
        assert session.scalars(select(models.LogBatch.batch_id)).all() == ["new"]

    changes = {"AUTO_DELETE_REQUEST_LOGS_ENABLED": "true", "AUTO_DELETE_REQUEST_LOGS_DAYS": "7"}
    assert store.update_settings(changes, "al") == {}
    other = Retention(store, interval=3600, holder="replica-2")
    assert other.run_once() is None  # replica-1 holds the lease
    assert ages(engine, models.RequestLog) == [1, 6, 8, 40]
    again = first.run_once()
    assert again == {
        "admin_sessions": 0,
        "log_batches": 0,
        "request_stats": 0,
        "error_logs": 0,
        "request_logs": 2,
    }
    assert ages(engine, models.RequestLog) == [1, 6]
    with Session(engine) as session, session.begin():
        lease = session.scalars(select(models.Lease)).one()
        assert lease.holder == "replica-1"
        lease.expires_at = utcnow() - timedelta(seconds=1)  # replica-1 stopped renewing
    assert other.run_once() is not None and first.run_once() is None
