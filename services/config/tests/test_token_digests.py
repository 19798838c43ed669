"""The admin token and ALLOWED_TOKENS are kept only as digests: no table row, history entry or export
holds one in plaintext, whichever way it came in, and the 0005 migration hashes what older releases
stored. Real PostgreSQL: every string column of every table is read back and searched."""

import hashlib
import json

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, String, Text, inspect, select, text
from sqlalchemy.orm import Session

from gempool.common.digests import digest_bytes, digest_of, is_digest, is_short
from gempool.config import transfer
from gempool.config.db import MIGRATIONS, make_engine, migrate, startup_transaction
from gempool.config.models import Setting, SettingHistory
from gempool.config.store import Store

ADMIN_ENV = "admin-token-from-env-0001"
ADMIN_PANEL = "admin-token-from-panel-0002"
ADMIN_CLI = "admin-token-from-cli-0003"
ADMIN_IMPORT = "admin-token-from-import-0004"
TEAMS = ["team-token-from-env-a", "team-token-from-env-b", "team-token-from-panel-c", "team-from-import-d"]
EVERY_TOKEN = [ADMIN_ENV, ADMIN_PANEL, ADMIN_CLI, ADMIN_IMPORT, *TEAMS]


def plaintext_found(engine: Engine, tokens: list[str]) -> list[str]:
    """``table.column: token`` for every token found in any string column of any table."""
    found = []
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                if not isinstance(column["type"], String | Text):
                    continue
                values = conn.execute(text(f'SELECT "{column["name"]}" FROM "{table}"')).scalars()
                for value in values:
                    found += [f"{table}.{column['name']}: {t}" for t in tokens if value and t in value]
    return found


def stored(engine: Engine, name: str) -> object:
    with Session(engine) as session:
        row = session.get(Setting, name)
        assert row is not None
        return json.loads(row.value)


def test_no_token_is_stored_in_plaintext_whichever_way_it_came(pg_url: str) -> None:
    store = Store(make_engine(pg_url))
    try:
        store.prepare({"AUTH_TOKEN": ADMIN_ENV, "ALLOWED_TOKENS": f"{TEAMS[0]}, {TEAMS[1]}"})
        changes = {"AUTH_TOKEN": json.dumps(ADMIN_PANEL), "ALLOWED_TOKENS": json.dumps([TEAMS[0], TEAMS[2]])}
        assert store.update_settings(changes, "admin") == {}
        store.set_admin_token(ADMIN_CLI, "cli")
        with Session(store.engine) as session:
            first = session.scalars(
                select(SettingHistory.id)
                .where(SettingHistory.name == "AUTH_TOKEN")
                .order_by(SettingHistory.id)
            ).first()
        assert first is not None and store.rollback_setting(first, "admin") == {}  # the env token again
        assert stored(store.engine, "AUTH_TOKEN") == digest_of(ADMIN_ENV)
        settings = {"AUTH_TOKEN": ADMIN_IMPORT, "ALLOWED_TOKENS": [TEAMS[3]]}
        document = {"format": transfer.FORMAT, "version": transfer.VERSION, "settings": settings}
        assert not store.import_document(json.dumps(document).encode(), "admin").errors
        exported = json.dumps(store.run(transfer.export_document))
        assert plaintext_found(store.engine, EVERY_TOKEN) == []
        assert [t for t in EVERY_TOKEN if t in exported] == []
        # what is stored still recognises the tokens
        admin, teams = stored(store.engine, "AUTH_TOKEN"), stored(store.engine, "ALLOWED_TOKENS")
        assert (
            isinstance(admin, str) and digest_bytes(admin) == hashlib.sha256(ADMIN_IMPORT.encode()).digest()
        )
        assert teams == [digest_of(TEAMS[3])]
        # an export imports unchanged: its digests stay the same digests
        assert not store.import_document(exported.encode(), "admin").errors
        assert stored(store.engine, "AUTH_TOKEN") == admin and stored(store.engine, "ALLOWED_TOKENS") == teams
    finally:
        store.close()


def test_a_short_admin_token_is_kept_as_a_digest_that_says_so(pg_url: str) -> None:
    store = Store(make_engine(pg_url))
    try:
        store.prepare({"AUTH_TOKEN": "admin"})
        short = stored(store.engine, "AUTH_TOKEN")
        store.set_admin_token("a-long-random-admin-token-0123456789", "cli")
        long = stored(store.engine, "AUTH_TOKEN")
    finally:
        store.close()
    assert (
        isinstance(short, str)
        and is_short(short)
        and digest_bytes(short) == hashlib.sha256(b"admin").digest()
    )
    assert isinstance(long, str) and is_digest(long) and not is_short(long)


def test_0005_hashes_the_tokens_older_releases_stored(pg_url: str) -> None:
    engine = make_engine(pg_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with startup_transaction(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
        with Session(engine) as session, session.begin():
            session.add(Setting(name="AUTH_TOKEN", value=json.dumps(ADMIN_CLI), source="cli", updated_by="x"))
            session.add(
                Setting(name="ALLOWED_TOKENS", value=json.dumps(TEAMS[:2]), source="env", updated_by="x")
            )
            session.add(Setting(name="MAX_RETRIES", value="5", source="env", updated_by="x"))
            session.add(SettingHistory(name="AUTH_TOKEN", old=None, new=json.dumps("adm"), actor="seed"))
            session.add(
                SettingHistory(name="AUTH_TOKEN", old=json.dumps("adm"), new=json.dumps(ADMIN_ENV), actor="a")
            )
            session.add(
                SettingHistory(
                    name="AUTH_TOKEN", old=json.dumps(ADMIN_ENV), new=json.dumps(ADMIN_CLI), actor="cli"
                )
            )
            session.add(
                SettingHistory(name="ALLOWED_TOKENS", old=None, new=json.dumps(TEAMS[:2]), actor="seed")
            )
        with startup_transaction(engine) as conn:
            migrate(conn)
        assert plaintext_found(engine, [*EVERY_TOKEN, '"adm"']) == []
        assert stored(engine, "AUTH_TOKEN") == digest_of(ADMIN_CLI)
        assert stored(engine, "ALLOWED_TOKENS") == [digest_of(t) for t in TEAMS[:2]]
        assert stored(engine, "MAX_RETRIES") == 5
        with Session(engine) as session:
            history = session.execute(
                select(SettingHistory.old, SettingHistory.new)
                .where(SettingHistory.name == "AUTH_TOKEN")
                .order_by(SettingHistory.id)
            ).all()
        short = digest_of("adm", note_short=True)
        assert [(json.loads(o) if o else None, json.loads(n)) for o, n in history] == [
            (None, short),
            (short, digest_of(ADMIN_ENV)),
            (digest_of(ADMIN_ENV), digest_of(ADMIN_CLI)),
        ]
    finally:
        engine.dispose()
