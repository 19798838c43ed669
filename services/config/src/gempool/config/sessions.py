"""Admin sessions: digests of random session ids with an expiry, shared by every gateway replica."""

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gempool.config.models import AdminSession, utcnow


def create(session: Session, digest: str, ttl_seconds: float, client: str) -> datetime:
    expires = utcnow() + timedelta(seconds=ttl_seconds)
    session.merge(AdminSession(digest=digest, client=client[:128], expires_at=expires))
    return expires


def check(session: Session, digest: str) -> datetime | None:
    """When the session ends, or None when it is unknown or over."""
    row = session.get(AdminSession, digest)
    if row is None or row.expires_at <= utcnow():
        return None
    return row.expires_at


def remove(session: Session, digest: str) -> bool:
    query = delete(AdminSession).where(AdminSession.digest == digest).returning(AdminSession.digest)
    return session.scalar(query) is not None


def remove_all(session: Session) -> None:
    """Every admin logs in again (the admin token changed)."""
    session.execute(delete(AdminSession))


def purge_expired(session: Session) -> int:
    query = delete(AdminSession).where(AdminSession.expires_at <= utcnow()).returning(AdminSession.digest)
    return len(session.scalars(query).all())
