"""Client token records. Only the SHA-256 of a secret is stored; the secret is shown once."""

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_bytes
from gempool.common.keys import mask
from gempool.config.models import ClientTokenRow, utcnow

Errors = dict[str, str]

SECRET_PREFIX = "gp-"
MAX_RPM = 1_000_000
SEED_NAME = "allowed-token-{n}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def clean_models(models: Iterable[str]) -> list[str]:
    """``models/gemini-x`` and ``gemini-x`` mean the same model; blanks and repeats are dropped."""
    out: list[str] = []
    for model in models:
        name = model.strip().removeprefix("models/")
        if name and name not in out:
            out.append(name)
    return out


def field_errors(name: str | None, rpm_limit: int | None) -> Errors:
    errors: Errors = {}
    if name is not None and not 0 < len(name.strip()) <= 128:
        errors["name"] = "must be 1 to 128 characters"
    if rpm_limit is not None and not 0 <= rpm_limit <= MAX_RPM:
        errors["rpm_limit"] = f"must be between 0 (no limit) and {MAX_RPM}"
    return errors


def to_token(row: ClientTokenRow) -> config_pb2.ClientToken:
    return config_pb2.ClientToken(
        id=row.id,
        name=row.name,
        digest=row.digest,
        enabled=row.enabled,
        allowed_models=json.loads(row.allowed_models),
        rpm_limit=row.rpm_limit,
        key_tag=row.key_tag,
    )


def to_record(row: ClientTokenRow) -> config_pb2.TokenRecord:
    return config_pb2.TokenRecord(
        token=to_token(row),
        hint=row.hint,
        created_at_unix=row.created_at.timestamp(),
        last_used_at_unix=row.last_used_at.timestamp() if row.last_used_at else 0.0,
    )


def all_rows(session: Session) -> Sequence[ClientTokenRow]:
    return session.scalars(select(ClientTokenRow).order_by(ClientTokenRow.id)).all()


def snapshot_tokens(session: Session) -> list[config_pb2.ClientToken]:
    return [to_token(row) for row in all_rows(session)]


def taken(session: Session, *, name: str = "", token_digest: str = "", other_than: int = 0) -> Errors:
    errors: Errors = {}
    rows = ClientTokenRow
    if name and session.scalar(select(rows.id).where(rows.name == name, rows.id != other_than)):
        errors["name"] = f"a token named {name!r} exists"
    if token_digest and session.scalar(select(rows.id).where(rows.digest == token_digest)):
        errors["secret"] = "this secret belongs to another token"
    return errors


def create(
    session: Session, request: config_pb2.CreateTokenRequest
) -> tuple[ClientTokenRow | None, str, Errors]:
    """A new record and its secret (generated unless given), or what is wrong."""
    name = request.name.strip()
    secret = request.secret.strip() or new_secret()
    errors = field_errors(name, request.rpm_limit)
    errors |= taken(session, name=name, token_digest=digest(secret)) if not errors else {}
    if errors:
        return None, "", errors
    row = ClientTokenRow(
        name=name,
        digest=digest(secret),
        hint=mask(secret),
        enabled=not request.disabled,
        allowed_models=json.dumps(clean_models(request.allowed_models)),
        rpm_limit=request.rpm_limit,
        key_tag=request.key_tag.strip(),
    )
    session.add(row)
    session.flush()
    return row, secret, {}


def change(session: Session, request: config_pb2.UpdateTokenRequest) -> tuple[ClientTokenRow | None, Errors]:
    """Apply the fields present in ``request``; (None, {}) when the id is unknown."""
    row = session.get(ClientTokenRow, request.id)
    if row is None:
        return None, {}
    name = request.name.strip() if request.HasField("name") else None
    rpm = request.rpm_limit if request.HasField("rpm_limit") else None
    errors = field_errors(name, rpm)
    if name and not errors:
        errors = taken(session, name=name, other_than=row.id)
    if errors:
        return row, errors
    if name is not None:
        row.name = name
    if rpm is not None:
        row.rpm_limit = rpm
    if request.HasField("enabled"):
        row.enabled = request.enabled
    if request.HasField("key_tag"):
        row.key_tag = request.key_tag.strip()
    if request.HasField("allowed_models"):
        row.allowed_models = json.dumps(clean_models(request.allowed_models.models))
    session.flush()
    return row, {}


def remove(session: Session, token_id: int) -> str | None:
    """Delete a record; returns its digest (None when unknown)."""
    query = delete(ClientTokenRow).where(ClientTokenRow.id == token_id).returning(ClientTokenRow.digest)
    return session.scalar(query)


def adopt(session: Session, listed: Sequence[tuple[str, str]]) -> int:
    """A record (named allowed-token-N) for each ALLOWED_TOKENS entry, ``(stored value, hint)``, that
    has none, so every token that works is listed under Tokens and can be renamed, limited or
    disabled there."""
    known = set(session.scalars(select(ClientTokenRow.digest)))
    names = set(session.scalars(select(ClientTokenRow.name)))
    added, n = 0, 0
    for stored, hint in listed:
        hexdigest = digest_bytes(stored).hex() if stored else ""
        if not hexdigest or hexdigest in known:
            continue
        known.add(hexdigest)
        n += 1
        while SEED_NAME.format(n=n) in names:
            n += 1
        names.add(SEED_NAME.format(n=n))
        session.add(
            ClientTokenRow(
                name=SEED_NAME.format(n=n),
                digest=hexdigest,
                hint=hint,
                enabled=True,
                allowed_models="[]",
                rpm_limit=0,
                key_tag="",
            )
        )
        added += 1
    session.flush()
    return added


def forget(session: Session, digests: Iterable[str]) -> int:
    """Delete the records of these secrets' digests; how many went."""
    gone = sorted(digests)
    if not gone:
        return 0
    query = delete(ClientTokenRow).where(ClientTokenRow.digest.in_(gone)).returning(ClientTokenRow.id)
    return len(session.scalars(query).all())


def touch(session: Session, last_used: Mapping[str, datetime]) -> None:
    """Move ``last_used_at`` forward for tokens named in a log batch."""
    rows = ClientTokenRow
    for name, at in sorted(last_used.items()):  # in name order, so concurrent batches lock alike
        session.execute(
            update(rows)
            .where(rows.name == name, (rows.last_used_at.is_(None)) | (rows.last_used_at < at))
            .values(last_used_at=at)
        )


def upsert(session: Session, item: Mapping[str, object]) -> bool:
    """Import one exported token (digest kept); returns True when it was new."""
    row = session.scalar(select(ClientTokenRow).where(ClientTokenRow.digest == item["digest"]))
    created = row is None
    if row is None:
        row = ClientTokenRow(digest=str(item["digest"]), created_at=utcnow())
        session.add(row)
    row.name = str(item["name"])
    row.hint = str(item.get("hint", ""))
    row.enabled = bool(item.get("enabled", True))
    row.allowed_models = json.dumps(clean_models(item.get("allowed_models", [])))  # type: ignore[arg-type]
    row.rpm_limit = int(item.get("rpm_limit", 0))  # type: ignore[call-overload]
    row.key_tag = str(item.get("key_tag", ""))
    session.flush()
    return created
