"""Tables owned by the config service. The schema itself is created only by the alembic migrations."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements an ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """The current value of one live setting, JSON-encoded (``"3"``, ``"\\"INFO\\""``, ``"[...]"``)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # default | env | admin | cli | rollback ...
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class SettingHistory(Base):
    __tablename__ = "settings_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Revision(Base):
    """One row (id 1): moves on every change of settings, of key records and of token records."""

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    keys_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ApiKey(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key: Mapped[str] = mapped_column(Text)
    # free | paid | vertex
    kind: Mapped[str] = mapped_column(String(16))
    # active | retired | disabled
    status: Mapped[str] = mapped_column(String(16), default="active")
    reason: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RequestLog(Base):
    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_model_at", "model", "at"),
        Index("ix_request_logs_token_at", "token_name", "at"),
        Index("ix_request_logs_key_at", "key_masked", "at"),
        Index("ix_request_logs_key_id_at", "key_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    token_name: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    dialect: Mapped[str] = mapped_column(String(32))
    key_masked: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    latency_seconds: Mapped[float] = mapped_column(Float)
    first_byte_seconds: Mapped[float] = mapped_column(Float)
    tokens_in: Mapped[int] = mapped_column(BigInteger)
    tokens_out: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(128))


class ErrorLog(Base):
    __tablename__ = "error_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    key_masked: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    request_body: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(128))
    token_name: Mapped[str] = mapped_column(String(128), default="", server_default="")
    key_id: Mapped[str] = mapped_column(String(64), default="", server_default="")


class RequestStats(Base):
    """Request logs summed per UTC hour, model, key and token: what statistics read.

    Written with every log batch, so a week of a million requests is a few thousand rows. Deleting
    logs (by hand or by retention) leaves these counts: they count requests served.
    """

    __tablename__ = "request_stats"

    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_masked: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Two keys may share a masked form; the id keeps them apart ("" for rows from before 0006).
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="", server_default="")
    calls: Mapped[int] = mapped_column(BigInteger)
    success: Mapped[int] = mapped_column(BigInteger)
    tokens_in: Mapped[int] = mapped_column(BigInteger)
    tokens_out: Mapped[int] = mapped_column(BigInteger)
    latency_seconds: Mapped[float] = mapped_column(Float)
    rate_limited: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    retried: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ClientTokenRow(Base):
    """A team's token: only the SHA-256 of its secret is kept (the secret is shown once)."""

    __tablename__ = "client_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    allowed_models: Mapped[str] = mapped_column(Text)  # JSON list
    rpm_limit: Mapped[int] = mapped_column(Integer)
    key_tag: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AdminSession(Base):
    """A logged-in admin: the digest of the browser's random session id, and when it ends."""

    __tablename__ = "admin_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class LogBatch(Base):
    """Ids of log batches already stored, so a batch retried after a lost answer is stored once."""

    __tablename__ = "log_batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Lease(Base):
    """A job only one replica runs at a time (retention): whoever holds an unexpired lease."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
