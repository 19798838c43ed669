"""Validated settings changes: the one write path of admin edits, rollbacks and imports."""

import json
from collections.abc import Mapping

from sqlalchemy.orm import Session

from gempool.common.digests import digest_bytes, is_digest, shown
from gempool.common.keys import mask
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
    admin session. Token records follow ALLOWED_TOKENS (an import adopts new entries only after its
    own token records are in: ``adopt`` False).
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
    if "ALLOWED_TOKENS" in changed:
        old, new = json.loads(current["ALLOWED_TOKENS"]), json.loads(wire["ALLOWED_TOKENS"])
        sent = changes["ALLOWED_TOKENS"]
        plain = [t for t in sent if isinstance(t, str)] if isinstance(sent, list) else []
        if follow_allowed_tokens(session, old, new, adopt, plain):
            bump(session, tokens=True)
    return {}, changed


def follow_allowed_tokens(
    session: Session, old: list[str], new: list[str], adopt: bool, plain: list[str]
) -> bool:
    """Token records follow ALLOWED_TOKENS: a token taken out loses its record (else it would still
    let its team in), one put in gets one (unless ``adopt`` is False), its hint masked from the
    plaintext sent (``plain``) when there is one. Whether any record changed."""

    def hexes(values: list[str]) -> set[str]:
        return {digest_bytes(v).hex() for v in values if v}

    forgot = tokenstore.forget(session, hexes(old) - hexes(new))
    if not adopt:
        return bool(forgot)
    hints = {digest_bytes(t).hex(): mask(t) for t in plain if t and not is_digest(t)}
    listed = [(d, hints.get(digest_bytes(d).hex()) or shown(d)) for d in new if d]
    return bool(forgot + tokenstore.adopt(session, listed))
