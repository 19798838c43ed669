"""Export and import of every setting, key record and token record as one JSON document.

The document holds whole upstream keys: it is a secret file. Tokens travel as digests, so
clients keep working with the secrets they hold. An import merges: settings are validated and
stored, keys added (and their status taken), tokens added or updated by digest; any error stores
nothing.
"""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import shown
from gempool.common.keys import key_id
from gempool.config import keystore, tokenstore
from gempool.config.changes import Errors, apply_changes
from gempool.config.models import ApiKey, ClientTokenRow
from gempool.config.revisions import bump, current_settings, current_values, stored_values

FORMAT, VERSION = "gempool-export", 1
KINDS, STATUSES = {"free", "paid", "vertex"}, {"active", "retired", "disabled"}


def export_document(session: Session) -> dict[str, Any]:
    settings = {k: json.loads(v) for k, v in current_values(stored_values(session)).items()}
    keys = [
        {
            "api_key": k.api_key,
            "kind": k.kind,
            "status": k.status,
            "reason": k.reason,
            "tags": json.loads(k.tags),
        }
        for k in session.scalars(select(ApiKey).order_by(ApiKey.key_id))
    ]
    tokens = [
        {
            "name": t.name,
            "digest": t.digest,
            "hint": t.hint,
            "enabled": t.enabled,
            "allowed_models": json.loads(t.allowed_models),
            "rpm_limit": t.rpm_limit,
            "key_tag": t.key_tag,
        }
        for t in tokenstore.all_rows(session)
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "settings": settings,
        "keys": keys,
        "tokens": tokens,
    }


def parse(document: bytes) -> tuple[dict[str, Any], Errors]:
    try:
        data = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {}, {"document": f"not JSON ({exc})"}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}, {"document": f'not a gempool export (expected "format": "{FORMAT}")'}
    if data.get("version") != VERSION:
        return {}, {
            "document": f"export version {data.get('version')!r} is not supported (expected {VERSION})"
        }
    return data, check_items(data)


def check_items(data: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if not isinstance(data.get("settings", {}), dict):
        errors["settings"] = "must be an object of setting names to values"
    for n, key in enumerate(data.get("keys", [])):
        if not isinstance(key, dict) or not str(key.get("api_key", "")).strip():
            errors[f"keys[{n}]"] = "needs an api_key"
        elif key.get("kind", "free") not in KINDS or key.get("status", "active") not in STATUSES:
            errors[f"keys[{n}]"] = f"kind must be one of {sorted(KINDS)}, status one of {sorted(STATUSES)}"
    for n, token in enumerate(data.get("tokens", [])):
        if not isinstance(token, dict) or len(str(token.get("digest", ""))) != 64 or not token.get("name"):
            errors[f"tokens[{n}]"] = "needs a name and a 64-character sha256 digest"
    return errors


def import_keys(session: Session, keys: list[dict[str, Any]]) -> tuple[int, int]:
    inputs = [keystore.KeyInput(k["api_key"], k.get("kind", "free"), k.get("tags", [])) for k in keys]
    added, _ = keystore.add_keys(session, inputs)
    updated = 0
    for key in keys:
        row = session.get(ApiKey, key_id(key["api_key"].strip()))
        status, reason = key.get("status", "active"), key.get("reason", "")
        if row is not None and (row.status, row.reason) != (status, reason):
            keystore.set_status(session, row.key_id, status, reason)
            updated += 1
    return added, updated


def import_tokens(session: Session, tokens: list[dict[str, Any]]) -> tuple[int, int, Errors]:
    added = updated = 0
    for n, token in enumerate(tokens):
        owner = session.scalar(select(ClientTokenRow.digest).where(ClientTokenRow.name == token["name"]))
        if owner is not None and owner != token["digest"]:
            return 0, 0, {f"tokens[{n}]": f"the name {token['name']!r} belongs to another token here"}
        if tokenstore.upsert(session, token):
            added += 1
        else:
            updated += 1
    return added, updated, {}


def import_document(session: Session, document: bytes, actor: str) -> config_pb2.ImportDataResponse:
    """Everything in the caller's transaction; the caller commits only when ``errors`` is empty."""
    data, errors = parse(document)
    if errors:
        return response_with(errors)
    errors, changed = apply_changes(session, data.get("settings", {}), actor, "import", adopt=False)
    if errors:
        return response_with(errors)
    keys_added, keys_updated = import_keys(session, data.get("keys", []))
    tokens_added, tokens_updated, errors = import_tokens(session, data.get("tokens", []))
    if errors:
        return response_with(errors)
    listed = current_settings(session).ALLOWED_TOKENS
    adopted = tokenstore.adopt(session, [(d, shown(d)) for d in listed])
    tokens_changed = bool(tokens_added or tokens_updated or adopted)
    bump(session, keys=bool(keys_added or keys_updated), tokens=tokens_changed)
    return config_pb2.ImportDataResponse(
        settings_changed=len(changed),
        keys_added=keys_added,
        keys_updated=keys_updated,
        tokens_added=tokens_added,
        tokens_updated=tokens_updated,
    )


def response_with(errors: Errors) -> config_pb2.ImportDataResponse:
    fields = [config_pb2.FieldError(name=n, message=m) for n, m in sorted(errors.items())]
    return config_pb2.ImportDataResponse(errors=fields)
