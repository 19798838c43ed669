"""Request statistics computed by the database: totals, a time series, the top groups, recent windows.

Whole UTC hours are read from ``request_stats`` (summed per hour as logs are written); the partial
hours at either end of a range, and minute series, from ``request_logs`` through its time index.
A week of a million requests is thus a few thousand rollup rows plus at most two hours of logs.
"""

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, case, cast, extract, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gempool.api.config.v1 import config_pb2
from gempool.config.models import ErrorLog, RequestLog, RequestStats

DEFAULT_TOP = 20
HOUR = 3600
WINDOWS = {"last_minute": 60, "last_hour": HOUR, "last_day": 86400}
GROUPS = {"by_model": "model", "by_token": "token_name"}
EMPTY = [0, 0, 0, 0, 0.0, 0, 0]

Sums = list[float]  # calls, success, tokens_in, tokens_out, latency seconds, 429s, retried
# (table, session) -> what to group by: one column, or a tuple of them
Key = Callable[[Any, Session], ColumnElement[Any] | tuple[ColumnElement[Any], ...]]


class Part(NamedTuple):
    """A slice of a range and the table that holds it: RequestStats (whole hours) or RequestLog."""

    table: Any
    since: float
    until: float


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def split(since: float, until: float, hourly: bool = True) -> list[Part]:
    first, last = math.ceil(since / HOUR) * HOUR, math.floor(until / HOUR) * HOUR
    if not hourly or first >= last:
        return [Part(RequestLog, since, until)] if since < until else []
    parts = [Part(RequestStats, first, last)]
    if since < first:
        parts.append(Part(RequestLog, since, first))
    if last < until:
        parts.append(Part(RequestLog, last, until))
    return parts


def time_of(table: Any) -> Any:
    return table.hour if table is RequestStats else table.at


def sums_of(table: Any) -> list[ColumnElement[Any]]:
    if table is RequestStats:
        totals = [table.calls, table.success, table.tokens_in, table.tokens_out, table.latency_seconds]
        totals += [table.rate_limited, table.retried]
        return [func.coalesce(func.sum(c), 0) for c in totals]
    ok = case((table.status == 200, 1), else_=0)
    limited = case((table.status == 429, 1), else_=0)
    retried = case((table.attempts > 1, 1), else_=0)
    columns: list[Any] = [ok, table.tokens_in, table.tokens_out, table.latency_seconds, limited, retried]
    return [func.count(), *(func.coalesce(func.sum(c), 0) for c in columns)]


def epoch(table: Any, session: Session) -> ColumnElement[Any]:
    """Seconds since 1970 of the table's time column, in this database's dialect."""
    column = time_of(table)
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return extract("epoch", column)


def summed(session: Session, parts: list[Part], key: Key | None = None, key_id: str = "") -> dict[Any, Sums]:
    """Sums per group (``key`` gives one or more columns; one group, None, without it) over every part,
    merged; with ``key_id``, of that key's calls only."""
    out: dict[Any, Sums] = {}
    for part in parts:
        table, column = part.table, time_of(part.table)
        grouped = key(table, session) if key else literal(None)
        group = list(grouped) if isinstance(grouped, tuple) else [grouped]
        query = select(*group, *sums_of(table)).where(column >= at(part.since), column < at(part.until))
        if key_id:
            query = query.where(table.key_id == key_id)
        for row in session.execute(query.group_by(*group) if key else query):
            name, values = tuple(row[: len(group)]) if len(group) > 1 else row[0], row[len(group) :]
            total = out.setdefault(name, list(EMPTY))
            for n, value in enumerate(values):  # PostgreSQL sums bigints as numeric (Decimal)
                total[n] += float(value or 0) if n == 4 else int(value or 0)
    return out


def count(values: Sums | None) -> config_pb2.StatsCount:
    calls, success, tokens_in, tokens_out, latency, limited, retried = values or EMPTY
    return config_pb2.StatsCount(
        rate_limited=int(limited),
        retried=int(retried),
        calls=int(calls),
        success=int(success),
        success_rate=success / calls if calls else 0.0,
        tokens_in=int(tokens_in),
        tokens_out=int(tokens_out),
        avg_latency_seconds=float(latency) / calls if calls else 0.0,
    )


def groups(
    session: Session, parts: list[Part], column: str, top: int, key_id: str = ""
) -> list[config_pb2.StatsGroup]:
    found = summed(session, parts, lambda table, _: getattr(table, column), key_id)
    ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:top]
    return [config_pb2.StatsGroup(name=name, count=count(values)) for name, values in ranked]


def key_groups(
    session: Session, parts: list[Part], top: int, key_id: str = ""
) -> list[config_pb2.StatsGroup]:
    """Per key: by key_id (two keys alike masked stay two rows); calls that got no key are one row
    with both empty; rows older than key_id group by their mask."""
    found = summed(session, parts, lambda table, _: (table.key_id, table.key_masked), key_id)
    ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:top]
    return [
        config_pb2.StatsGroup(name=masked, key_id=kid, count=count(values))
        for (kid, masked), values in ranked
    ]


def series(
    session: Session, since: float, until: float, bucket: int, offset: int, key_id: str = ""
) -> list[config_pb2.StatsBucket]:
    """Buckets of ``bucket`` seconds aligned to local time (UTC + ``offset``)."""
    hourly = bucket % HOUR == 0 and offset % HOUR == 0  # hour rollups fit such buckets exactly

    def slot(table: Any, session: Session) -> ColumnElement[Any]:
        return func.floor((epoch(table, session) + offset) / bucket)

    found = summed(session, split(since, until, hourly), slot, key_id)
    return [
        config_pb2.StatsBucket(start_unix=int(s) * bucket - offset, count=count(found[s]))
        for s in sorted(found)
    ]


def get_stats(session: Session, request: config_pb2.GetStatsRequest) -> config_pb2.GetStatsResponse:
    until = request.until_unix or time.time()
    parts = split(request.since_unix, until)
    top, kid = request.top or DEFAULT_TOP, request.key_id
    errors = select(func.count()).select_from(ErrorLog)
    errors = errors.where(ErrorLog.at >= at(request.since_unix), ErrorLog.at < at(until))
    if kid:
        errors = errors.where(ErrorLog.key_id == kid)
    response = config_pb2.GetStatsResponse(
        total=count(summed(session, parts, key_id=kid).get(None)), errors=session.scalar(errors) or 0
    )
    for field, column in GROUPS.items():
        getattr(response, field).extend(groups(session, parts, column, top, kid))
    response.by_key.extend(key_groups(session, parts, top, kid))
    for field, seconds in WINDOWS.items():
        recent = summed(session, split(until - seconds, until), key_id=kid).get(None)
        getattr(response, field).CopyFrom(count(recent))
    if request.bucket_seconds > 0:
        buckets = series(
            session, request.since_unix, until, request.bucket_seconds, request.tz_offset_seconds, kid
        )
        response.series.extend(buckets)
    return response
