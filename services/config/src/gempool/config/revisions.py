"""The revision row and the settings rows: the low-level reads and writes every path shares."""

from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.live import LiveSettings
from gempool.config import tokenstore
from gempool.config.models import Revision, Setting, SettingHistory, utcnow

DEFAULTS: dict[str, str] = LiveSettings().to_wire()


class Revisions(NamedTuple):
    settings: int
    keys: int
    tokens: int = 0


def read_revisions(session: Session) -> Revisions:
    query = select(Revision.settings_revision, Revision.keys_revision, Revision.tokens_revision).where(
        Revision.id == 1
    )
    row = session.execute(query).one()
    return Revisions(row.settings_revision, row.keys_revision, row.tokens_revision)


def bump(session: Session, *, settings: bool = False, keys: bool = False, tokens: bool = False) -> None:
    """Move the revisions; on PostgreSQL this also locks the row until the transaction ends."""
    session.execute(
        update(Revision)
        .where(Revision.id == 1)
        .values(
            settings_revision=Revision.settings_revision + int(settings),
            keys_revision=Revision.keys_revision + int(keys),
            tokens_revision=Revision.tokens_revision + int(tokens),
        )
    )


def stored_values(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Setting.name, Setting.value)).all())


def current_values(stored: dict[str, str]) -> dict[str, str]:
    """Every live setting: the stored value, or the default for a name never stored."""
    return DEFAULTS | {name: value for name, value in stored.items() if name in DEFAULTS}


def current_settings(session: Session) -> LiveSettings:
    return LiveSettings.from_wire(current_values(stored_values(session)))


def snapshot(session: Session) -> config_pb2.SettingsSnapshot:
    # Revisions first: a change committed in between makes the snapshot newer than its number, so
    # the poller sends it again; the other order could pair new numbers with old values for good.
    revisions = read_revisions(session)
    values = current_values(stored_values(session))
    return config_pb2.SettingsSnapshot(
        values=values,
        revision=revisions.settings,
        keys_revision=revisions.keys,
        tokens_revision=revisions.tokens,
        tokens=tokenstore.snapshot_tokens(session),
    )


def write_setting(session: Session, name: str, value: str, *, source: str, actor: str) -> None:
    """Store one JSON-encoded value and append its history row (the caller bumps the revision)."""
    row = session.get(Setting, name)
    old = row.value if row is not None else None
    if row is None:
        session.add(Setting(name=name, value=value, source=source, updated_by=actor))
    else:
        row.value, row.source, row.updated_by, row.updated_at = value, source, actor, utcnow()
    session.add(SettingHistory(name=name, old=old, new=value, actor=actor))
