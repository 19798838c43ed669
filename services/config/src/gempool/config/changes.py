"""Validated settings changes: the one write path of admin edits, rollbacks and imports."""

import json
from collections.abc import Mapping

from sqlalchemy.orm import Session

from gempool.common.digests import shown
from gempool.common.live import LiveSettings, SettingError, validate
from gempool.config import sessions, tokenstore
from gempool.config.revisions import bump, current_values, stored_values, write_setting

Errors = dict[str, str]


def decode_values(raw: Mapping[str, str]) -> tuple[dict[str, object], Errors]:
    changes: dict[str, object] = {}
    errors: Errors = {}
    for name, text in raw.items():
        try:
            changes[name] = json.loads(text)
        except json.JSONDecodeError:
            errors[name] = 'must be JSON-encoded (e.g. "3", "true", "\\"text\\"", "[\\"a\\"]")'
    return changes, errors


def validate_changes(current: Mapping[str, str], changes: Mapping[str, object]) -> dict[str, str]:
    """The full validated wire map after ``changes``; raises SettingError."""
    wire = validate(LiveSettings.from_wire(current), changes).to_wire()
    if "AUTH_TOKEN" in changes and not json.loads(wire["AUTH_TOKEN"]):
        raise SettingError({"AUTH_TOKEN": "must not be empty (the admin panel would be locked or open)"})
    return wire


def apply_changes(
    session: Session, changes: Mapping[str, object], actor: str, source: str, adopt: bool = True
) -> tuple[Errors, list[str]]:
    """Validate and write ``changes`` in the caller's transaction: (errors, names changed).

    The caller commits when something changed and nothing was wrong. A new AUTH_TOKEN ends every
    admin session. New ALLOWED_TOKENS entries get token records (unless ``adopt`` is False: an
    import adopts after its own token records are in).
    """
    bump(session, settings=True)  # first: serialises concurrent updates on the row lock
    current = current_values(stored_values(session))
    try:
        wire = validate_changes(current, changes)
    except SettingError as exc:
        return exc.errors, []
    changed = [name for name in changes if wire[name] != current[name]]
    for name in changed:
        write_setting(session, name, wire[name], source=source, actor=actor)
    if "AUTH_TOKEN" in changed:
        sessions.remove_all(session)
    if (
        adopt
        and "ALLOWED_TOKENS" in changed
        and tokenstore.adopt(session, [(d, shown(d)) for d in json.loads(wire["ALLOWED_TOKENS"])])
    ):
        bump(session, tokens=True)
    return {}, changed
