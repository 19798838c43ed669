"""Schema by migrations only: from empty, re-run, and several replicas starting at once."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import (
    ColumnElement,
    Engine,
    column,
    create_engine,
    func,
    insert,
    inspect,
    make_url,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from gempool.common.live import LiveSettings
from gempool.config import models
from gempool.config.db import MIGRATIONS, make_engine, migrate, startup_transaction
from gempool.config.models import Base
from gempool.config.store import Store, StoreClosed

TABLES = {
    *("settings", "settings_history", "revisions", "api_keys", "request_logs", "error_logs"),
    *("client_tokens", "admin_sessions", "log_batches", "leases", "request_stats"),
}


def count(session: Session, model: type[models.Base], *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def upgrade(engine: Engine) -> None:
    with startup_transaction(engine) as conn:
        migrate(conn)


def test_migrations_from_empty_then_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)  # a second start finds the schema at head and changes nothing
        with engine.connect() as conn:
            assert TABLES <= set(inspect(conn).get_table_names())
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0006"]
            assert conn.execute(select(func.count()).select_from(models.Revision)).scalar() == 1
            # the migrations create exactly what the models describe
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert "ix_request_logs_at" in {ix["name"] for ix in inspect(conn).get_indexes("request_logs")}
    finally:
        engine.dispose()


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a/b/gempool.db")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert (tmp_path / "a" / "b" / "gempool.db").is_file()


def test_replicas_starting_together_seed_once(pg_url: str) -> None:
    """Four replicas migrate and seed one fresh PostgreSQL database at the same moment."""
    engines = [make_engine(pg_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    tokens: list[str | None] = []
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            tokens.append(Store(engine).prepare({"API_KEYS": "AIzaSyTESTKEY000000000000000000001"}))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert failures == []
        assert sum(token is not None for token in tokens) == 1  # one admin token, generated once
        with Session(engines[0]) as session:
            assert session.scalar(select(func.count()).select_from(models.Setting)) == len(
                LiveSettings.model_fields
            )
            assert session.scalar(select(func.count()).select_from(models.ApiKey)) == 1
            history = select(func.count()).select_from(models.SettingHistory)
            assert (
                session.scalar(history.where(models.SettingHistory.name == "AUTH_TOKEN")) == 2
            )  # seed + generated
    finally:
        for engine in engines:
            engine.dispose()


def test_0003_fills_hourly_stats_from_logs_already_stored(database_url: str) -> None:
    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with startup_transaction(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
        with Session(engine) as session, session.begin():
            for minute, status in ((0, 200), (10, 429), (70, 200)):
                at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minute)
                row = {
                    "at": at,
                    "token_name": "t",
                    "model": "m",
                    "dialect": "gemini",
                    "key_masked": "k",
                    "attempts": 1,
                    "status": status,
                    "latency_seconds": 0.5,
                    "first_byte_seconds": 0.1,
                    "tokens_in": 3,
                    "tokens_out": 2,
                    "request_id": "",
                }
                # the table as 0002 made it (the model has columns added later)
                old = table("request_logs", *(column(name) for name in row))
                session.execute(insert(old), [row])
        upgrade(engine)
        with Session(engine) as session:
            rows = session.execute(
                select(
                    models.RequestStats.hour, models.RequestStats.calls, models.RequestStats.success
                ).order_by(models.RequestStats.hour)
            ).all()
    finally:
        engine.dispose()
    assert [(r.hour.hour, r.calls, r.success) for r in rows] == [(9, 2, 1), (10, 1, 1)]


def test_close_waits_for_a_running_transaction_and_leaves_no_connection_open(pg_url: str) -> None:
    """A cancelled request's worker thread may still be inside a transaction when the service stops."""
    store = Store(make_engine(pg_url))
    store.prepare({"AUTH_TOKEN": "admin-secret"})
    inside, release = threading.Event(), threading.Event()

    def slow(session: Session) -> int:
        inside.set()
        release.wait(10)
        one: int = session.execute(text("SELECT 1")).scalar_one()
        return one

    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(store.run(slow)))
    worker.start()
    assert inside.wait(10)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close() returned while a transaction was still running"
    release.set()
    worker.join(10)
    closer.join(10)
    assert results == [1] and not closer.is_alive()
    with pytest.raises(StoreClosed):
        store.run(slow)
    pool = store.engine.pool
    assert isinstance(pool, QueuePool)  # PostgreSQL's default pool, the one that counts checkouts
    assert pool.checkedout() == 0
    name = make_url(pg_url).database
    admin = create_engine(make_url(pg_url).set(database="postgres"))
    try:
        with admin.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            ).scalar_one()
    finally:
        admin.dispose()
    assert left == 0
