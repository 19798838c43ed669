"""AUTH_TOKEN and ALLOWED_TOKENS kept only as SHA-256 digests, in settings and in their history

Every stored admin token, old ones in the history included, and every ALLOWED_TOKENS entry becomes
``sha256:<hex>`` (``sha256-short:`` for an admin token under 16 characters, so the panel can still
advise a longer one). The hashing is written out here, not imported, so this step stays what it
was when later code changes. Downgrade cannot bring plaintext back: it leaves the digests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST = re.compile(r"sha256(-short)?:[0-9a-f]{64}")
NAMES = ("AUTH_TOKEN", "ALLOWED_TOKENS")


def _digest(token: str, note_short: bool) -> str:
    if not token or DIGEST.fullmatch(token):
        return token
    prefix = "sha256-short:" if note_short and len(token) < 16 else "sha256:"
    return prefix + hashlib.sha256(token.encode()).hexdigest()


def _tokens(value: Any) -> list[Any]:
    if isinstance(value, str):  # a plain comma list, should one ever have been stored
        return [p.strip().strip("\"'") for p in value.replace("\n", ",").split(",") if p.strip()]
    return value if isinstance(value, list) else []


def hashed(name: str, text: str | None) -> str | None:
    """The JSON text to keep instead of ``text``."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if name == "AUTH_TOKEN":
        return json.dumps(_digest(str(value).strip(), note_short=True))
    return json.dumps([_digest(t, note_short=False) if isinstance(t, str) else t for t in _tokens(value)])


def upgrade() -> None:
    bind = op.get_bind()
    names = {"names": list(NAMES)}
    settings = bind.execute(
        sa.text("SELECT name, value FROM settings WHERE name IN :names").bindparams(
            sa.bindparam("names", expanding=True)
        ),
        names,
    ).all()
    for name, value in settings:
        bind.execute(
            sa.text("UPDATE settings SET value = :value WHERE name = :name"),
            {"name": name, "value": hashed(name, value)},
        )
    history = bind.execute(
        sa.text("SELECT id, name, old, new FROM settings_history WHERE name IN :names").bindparams(
            sa.bindparam("names", expanding=True)
        ),
        names,
    ).all()
    for row_id, name, old, new in history:
        bind.execute(
            sa.text("UPDATE settings_history SET old = :old, new = :new WHERE id = :id"),
            {"id": row_id, "old": hashed(name, old), "new": hashed(name, new)},
        )


def downgrade() -> None:
    pass  # a digest cannot be turned back into its token
