"""The database behind the service: one short transaction per call (blocking; run it in a thread)."""

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_bytes, stored_form
from gempool.config import keystore, logstore, sessions, settingsinfo, tokenstore, transfer
from gempool.config.changes import Errors, apply_changes, decode_values
from gempool.config.db import migrate, startup_transaction
from gempool.config.revisions import (
    Revisions,
    bump,
    current_settings,
    read_revisions,
    snapshot,
    write_setting,
)
from gempool.config.seed import seed

P = ParamSpec("P")
T = TypeVar("T")


class StoreClosed(RuntimeError):
    """The service is shutting down: no new transaction starts."""


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Threads still inside a transaction. A cancelled asyncio caller does not stop its worker
        # thread, so close() waits for them: disposing the engine under a running transaction
        # would leave that connection open (and unowned) once the thread hands it back.
        self._active = 0
        self._closed = False
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._idle:
            if self._closed:
                raise StoreClosed("the config service is shutting down")
            self._active += 1
        try:
            with self._sessions.begin() as session:
                yield session
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        """Refuse new transactions, wait (up to ``timeout``) for running ones, then close every connection."""
        with self._idle:
            self._closed = True
            self._idle.wait_for(lambda: self._active == 0, timeout)
        self.engine.dispose()

    def prepare(self, env: Mapping[str, str]) -> str | None:
        """Migrate and seed under the replicas' startup lock; returns a newly generated admin token."""
        with startup_transaction(self.engine) as conn:
            migrate(conn)
            with Session(bind=conn) as session:
                token = seed(session, env)
                session.flush()
        return token

    def revisions(self) -> Revisions:
        with self._transaction() as session:
            return read_revisions(session)

    def snapshot(self) -> config_pb2.SettingsSnapshot:
        with self._transaction() as session:
            return snapshot(session)

    def run(self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(session, ...)`` in one transaction, committed when it returns."""
        with self._transaction() as session:
            return work(session, *args, **kwargs)

    def update_settings(self, raw: Mapping[str, str], actor: str, source: str = "admin") -> Errors:
        """Validate and store JSON-encoded values; on any error nothing is stored."""
        changes, errors = decode_values(raw)
        return errors or self.change_settings(changes, actor, source)

    def change_settings(self, changes: Mapping[str, object], actor: str, source: str) -> Errors:
        with self._sessions() as session:
            errors, changed = apply_changes(session, changes, actor, source)
            if changed and not errors:
                session.commit()  # otherwise the revision bump is rolled back too
        return errors

    def rollback_setting(self, change_id: int, actor: str) -> Errors | None:
        """Store again what a history entry stored; None when there is no such entry."""
        with self._sessions() as session:
            entry = settingsinfo.history_value(session, change_id)
        if entry is None:
            return None
        name, value = entry
        return self.change_settings({name: value}, actor, "rollback")

    def set_admin_token(self, token: str, actor: str) -> None:
        with self._transaction() as session:
            stored = json.dumps(stored_form(token, note_short=True))  # only its digest is kept
            write_setting(session, "AUTH_TOKEN", stored, source="cli", actor=actor)
            bump(session, settings=True)
            sessions.remove_all(session)

    def list_keys(self, page_size: int, after: str) -> config_pb2.ListKeysResponse:
        with self._transaction() as session:
            revision = read_revisions(session).keys
            records, token = keystore.list_page(session, page_size, after)
        return config_pb2.ListKeysResponse(keys=records, next_page_token=token, keys_revision=revision)

    def add_keys(self, keys: Sequence[keystore.KeyInput]) -> tuple[int, int]:
        with self._transaction() as session:
            added, existing = keystore.add_keys(session, keys)
            if added:
                bump(session, keys=True)
        return added, existing

    def remove_keys(self, key_ids: Sequence[str]) -> int:
        with self._transaction() as session:
            removed = keystore.remove_keys(session, key_ids)
            if removed:
                bump(session, keys=True)
        return removed

    def set_key_status(self, key_id: str, status: str, reason: str) -> bool:
        with self._transaction() as session:
            found = keystore.set_status(session, key_id, status, reason)
            if found:
                bump(session, keys=True)
        return found

    def set_keys_status(self, key_ids: list[str], status: str, reason: str) -> list[str]:
        """Change many keys in one transaction; returns the ids not found."""
        with self._transaction() as session:
            found = keystore.set_many_status(session, key_ids, status, reason)
            if found:
                bump(session, keys=True)
        return [k for k in key_ids if k not in found]

    def tag_keys(self, ids: list[str], add: list[str], remove: list[str]) -> int:
        with self._transaction() as session:
            changed = keystore.tag_keys(session, ids, add, remove)
            if changed:
                bump(session, keys=True)
        return changed

    def create_token(
        self, request: config_pb2.CreateTokenRequest
    ) -> tuple[config_pb2.TokenRecord | None, str, Errors]:
        with self._transaction() as session:
            row, secret, errors = tokenstore.create(session, request)
            if row is None:
                return None, "", errors
            bump(session, tokens=True)
            return tokenstore.to_record(row), secret, {}

    def update_token(
        self, request: config_pb2.UpdateTokenRequest
    ) -> tuple[config_pb2.TokenRecord | None, Errors]:
        with self._sessions() as session:
            row, errors = tokenstore.change(session, request)
            if row is None or errors:
                return (tokenstore.to_record(row) if row else None), errors
            bump(session, tokens=True)
            record = tokenstore.to_record(row)
            session.commit()
        return record, {}

    def delete_token(self, token_id: int, actor: str) -> bool:
        """Delete a record, and its secret from ALLOWED_TOKENS, which would still let it in."""
        with self._transaction() as session:
            digest = tokenstore.remove(session, token_id)
            if digest is None:
                return False
            bump(session, tokens=True)
            listed = current_settings(session).ALLOWED_TOKENS
            kept = [t for t in listed if digest_bytes(t).hex() != digest]
            if kept != listed:
                apply_changes(session, {"ALLOWED_TOKENS": kept}, actor, "admin")
        return True

    def list_tokens(self) -> config_pb2.ListTokensResponse:
        with self._transaction() as session:
            revision = read_revisions(session).tokens
            records = [tokenstore.to_record(row) for row in tokenstore.all_rows(session)]
        return config_pb2.ListTokensResponse(tokens=records, tokens_revision=revision)

    def import_document(self, document: bytes, actor: str) -> config_pb2.ImportDataResponse:
        """One transaction: everything is stored, or nothing when the reply names errors."""
        with self._sessions() as session:
            reply = transfer.import_document(session, document, actor)
            if not reply.errors:
                session.commit()
        return reply

    def write_logs(
        self,
        requests: Sequence[config_pb2.RequestLog],
        errors: Sequence[config_pb2.ErrorLog],
        batch_id: str = "",
    ) -> tuple[int, bool]:
        with self._transaction() as session:
            return logstore.write_logs(session, requests, errors, batch_id)
