"""What the admin API shows about settings: schema, source, environment drift and history."""

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.live import LiveSettings, SettingError, validate
from gempool.config.models import Setting, SettingHistory
from gempool.config.revisions import DEFAULTS, current_values

MAX_PAGE = 500


def schema_of(name: str) -> tuple[str, str, bool]:
    """(description, group, secret) of a live setting."""
    field = LiveSettings.model_fields[name]
    extra: Any = field.json_schema_extra or {}
    return field.description or "", str(extra.get("group", "")), bool(extra.get("secret", False))


def env_differences(stored: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """Names whose environment value (valid or not) differs from what the database holds."""
    current = current_values(dict(stored))
    differ = []
    for name in sorted(set(env) & set(DEFAULTS)):
        try:
            value = validate(LiveSettings(), {name: env[name]}).to_wire()[name]
        except SettingError:
            value = None
        if value != current[name]:
            differ.append(name)
    return differ


def describe(session: Session, env: Mapping[str, str]) -> list[config_pb2.SettingInfo]:
    rows = {row.name: row for row in session.scalars(select(Setting))}
    differ = set(env_differences({n: r.value for n, r in rows.items()}, env))
    out = []
    for name, default in DEFAULTS.items():
        row = rows.get(name)
        description, group, secret = schema_of(name)
        out.append(
            config_pb2.SettingInfo(
                name=name,
                value=row.value if row else default,
                default_value=default,
                source=row.source if row else "default",
                updated_at_unix=row.updated_at.timestamp() if row else 0.0,
                updated_by=row.updated_by if row else "",
                description=description,
                group=group,
                secret=secret,
                env_differs=name in differ,
            )
        )
    return out


def history(
    session: Session, name: str, page_size: int, before_id: int
) -> tuple[list[config_pb2.SettingChange], int]:
    """Newest first; the id to continue before (0 after the last page)."""
    size = min(page_size or 100, MAX_PAGE)
    query = select(SettingHistory).order_by(SettingHistory.id.desc()).limit(size + 1)
    if name:
        query = query.where(SettingHistory.name == name)
    if before_id:
        query = query.where(SettingHistory.id < before_id)
    rows = session.scalars(query).all()
    changes = [
        config_pb2.SettingChange(
            id=row.id,
            name=row.name,
            old_value=row.old,
            new_value=row.new,
            actor=row.actor,
            at_unix=row.at.timestamp(),
        )
        for row in rows[:size]
    ]
    return changes, rows[size - 1].id if len(rows) > size else 0


def history_value(session: Session, change_id: int) -> tuple[str, object] | None:
    """(name, decoded value) a history entry stored."""
    row = session.get(SettingHistory, change_id)
    return None if row is None else (row.name, json.loads(row.new))
