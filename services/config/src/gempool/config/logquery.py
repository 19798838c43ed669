"""Reading and deleting request and error logs: filtered, newest first, paged by id."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.scrub import scrub
from gempool.config.models import ErrorLog, RequestLog

MAX_PAGE = 1000
DELETE_CHUNK = 5000

# RequestLog or ErrorLog: the two tables share id, at, model, key_masked, status, request_id.
LogModel = Any


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def conditions(model: LogModel, f: config_pb2.LogFilter) -> list[ColumnElement[bool]]:
    table: Any = model
    where: list[ColumnElement[bool]] = []
    if f.id:
        where.append(table.id == f.id)
    if f.since_unix:
        where.append(table.at >= at(f.since_unix))
    if f.until_unix:
        where.append(table.at < at(f.until_unix))
    if f.model:
        prefix = f.model.strip().removeprefix("models/")
        exact = table.model == prefix
        where.append(exact if f.model_exact else table.model.startswith(prefix, autoescape=True))
    for column, value in (
        ("token_name", f.token_name),
        ("key_masked", f.key_masked),
        ("key_id", f.key_id),
        ("request_id", f.request_id),
    ):
        if value:
            where.append(getattr(table, column) == value)
    if f.status:
        where.append(table.status == f.status)
    if f.failed_only:
        where.append(table.status != 200)
    if f.error_code and model is ErrorLog:
        where.append(table.error_code == f.error_code)
    return where


def page(
    session: Session, model: LogModel, f: config_pb2.LogFilter, page_size: int, before_id: int
) -> tuple[Sequence[Any], int]:
    size = max(1, min(page_size or 50, MAX_PAGE))
    query: Select[Any] = select(model).where(*conditions(model, f))
    if before_id:
        query = query.where(model.id < before_id)
    rows = session.scalars(query.order_by(model.id.desc()).limit(size + 1)).all()
    return rows[:size], rows[size - 1].id if len(rows) > size else 0


def request_entry(row: RequestLog) -> config_pb2.RequestLogEntry:
    log = config_pb2.RequestLog(
        at_unix=row.at.timestamp(),
        token_name=row.token_name,
        model=row.model,
        dialect=row.dialect,
        key_masked=row.key_masked,
        attempts=row.attempts,
        status=row.status,
        latency_seconds=row.latency_seconds,
        first_byte_seconds=row.first_byte_seconds,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        request_id=row.request_id,
        key_id=row.key_id,
    )
    return config_pb2.RequestLogEntry(id=row.id, log=log)


def error_entry(row: ErrorLog, with_body: bool) -> config_pb2.ErrorLogEntry:
    log = config_pb2.ErrorLog(
        at_unix=row.at.timestamp(),
        key_masked=row.key_masked,
        model=row.model,
        status=row.status,
        error_code=row.error_code,
        message=scrub(row.message),  # rows written before messages were scrubbed may quote a key
        request_body=scrub(row.request_body) if with_body else "",
        request_id=row.request_id,
        token_name=row.token_name,
        key_id=row.key_id,
    )
    return config_pb2.ErrorLogEntry(id=row.id, log=log)


def list_requests(
    session: Session, request: config_pb2.ListRequestLogsRequest
) -> config_pb2.ListRequestLogsResponse:
    rows, after = page(session, RequestLog, request.filter, request.page_size, request.before_id)
    return config_pb2.ListRequestLogsResponse(entries=[request_entry(r) for r in rows], next_before_id=after)


def list_errors(
    session: Session, request: config_pb2.ListErrorLogsRequest
) -> config_pb2.ListErrorLogsResponse:
    rows, after = page(session, ErrorLog, request.filter, request.page_size, request.before_id)
    entries = [error_entry(r, request.with_body) for r in rows]
    return config_pb2.ListErrorLogsResponse(entries=entries, next_before_id=after)


def delete_chunk(session: Session, key: Any, *where: ColumnElement[bool]) -> int:
    """Delete up to DELETE_CHUNK rows matching ``where``; ``key`` is the primary key column."""
    ids = session.scalars(select(key).where(*where).limit(DELETE_CHUNK)).all()
    if ids:
        session.execute(delete(key.class_).where(key.in_(ids)))
    return len(ids)


def delete_where(session: Session, model: LogModel, *where: ColumnElement[bool]) -> int:
    """Delete in chunks of ids, so no single statement grows without bound."""
    deleted = 0
    while chunk := delete_chunk(session, model.id, *where):
        deleted += chunk
    return deleted


def delete_logs(session: Session, request: config_pb2.DeleteLogsRequest) -> int:
    model: type[RequestLog] | type[ErrorLog] = (
        RequestLog if request.kind == config_pb2.LOG_KIND_REQUEST else ErrorLog
    )
    if request.all:
        return delete_where(session, model)
    deleted = 0
    if request.ids:
        ids = sorted(set(request.ids))
        for start in range(0, len(ids), DELETE_CHUNK):
            deleted += delete_where(session, model, model.id.in_(ids[start : start + DELETE_CHUNK]))
    if request.before_unix:
        deleted += delete_where(session, model, model.at < at(request.before_unix))
    return deleted
