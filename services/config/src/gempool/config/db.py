"""Engine creation and the schema upgrade every start runs (under a lock shared by all replicas)."""

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

log = logging.getLogger(__name__)

# services/config/migrations (the workspace installs this package in place).
MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
# pg_advisory_xact_lock key shared by every config replica: "gempool" in ASCII.
STARTUP_LOCK = 0x67656D706F6F6C


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextlib.contextmanager
def startup_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the replicas' startup lock on PostgreSQL until it commits."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STARTUP_LOCK})
        yield conn


def migrate(conn: Connection) -> None:
    """``alembic upgrade head`` on ``conn`` (idempotent: a schema at head is left alone)."""
    if not MIGRATIONS.is_dir():
        raise RuntimeError(f"alembic migrations not found at {MIGRATIONS}: install gempool-config in place")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
