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
GROUPS = {"by_model": "model", "by_key": "key_masked", "by_token": "token_name"}

Sums = list[float]  # calls, success, tokens_in, tokens_out, latency seconds
Key = Callable[[Any, Session], ColumnElement[Any]]  # (table, session) -> what to group by


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
        return [func.coalesce(func.sum(c), 0) for c in totals]
    ok = case((table.status == 200, 1), else_=0)
    columns: list[Any] = [ok, table.tokens_in, table.tokens_out, table.latency_seconds]
    return [func.count(), *(func.coalesce(func.sum(c), 0) for c in columns)]


def epoch(table: Any, session: Session) -> ColumnElement[Any]:
    """Seconds since 1970 of the table's time column, in this database's dialect."""
    column = time_of(table)
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return extract("epoch", column)


def summed(session: Session, parts: list[Part], key: Key | None = None) -> dict[Any, Sums]:
    """Sums per key (one key, None, without ``key``) over every part, merged."""
    out: dict[Any, Sums] = {}
    for part in parts:
        table, column = part.table, time_of(part.table)
        group = key(table, session).label("k") if key else literal(None).label("k")
        query = select(group, *sums_of(table)).where(column >= at(part.since), column < at(part.until))
        for name, *values in session.execute(query.group_by(group) if key else query):
            total = out.setdefault(name, [0, 0, 0, 0, 0.0])
            for n, value in enumerate(values):  # PostgreSQL sums bigints as numeric (Decimal)
                total[n] += float(value or 0) if n == 4 else int(value or 0)
    return out


def count(values: Sums | None) -> config_pb2.StatsCount:
    calls, success, tokens_in, tokens_out, latency = values or [0, 0, 0, 0, 0.0]
    return config_pb2.StatsCount(
        calls=int(calls),
        success=int(success),
        success_rate=success / calls if calls else 0.0,
        tokens_in=int(tokens_in),
        tokens_out=int(tokens_out),
        avg_latency_seconds=float(latency) / calls if calls else 0.0,
    )


def groups(session: Session, parts: list[Part], column: str, top: int) -> list[config_pb2.StatsGroup]:
    found = summed(session, parts, lambda table, _: getattr(table, column))
    ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:top]
    return [config_pb2.StatsGroup(name=name, count=count(values)) for name, values in ranked]


def series(
    session: Session, since: float, until: float, bucket: int, offset: int
) -> list[config_pb2.StatsBucket]:
    """Buckets of ``bucket`` seconds aligned to local time (UTC + ``offset``)."""
    hourly = bucket % HOUR == 0 and offset % HOUR == 0  # hour rollups fit such buckets exactly

    def slot(table: Any, session: Session) -> ColumnElement[Any]:
        return func.floor((epoch(table, session) + offset) / bucket)

    found = summed(session, split(since, until, hourly), slot)
    return [
        config_pb2.StatsBucket(start_unix=int(s) * bucket - offset, count=count(found[s]))
        for s in sorted(found)
    ]


def get_stats(session: Session, request: config_pb2.GetStatsRequest) -> config_pb2.GetStatsResponse:
    until = request.until_unix or time.time()
    parts = split(request.since_unix, until)
    top = request.top or DEFAULT_TOP
    errors = select(func.count()).select_from(ErrorLog)
    errors = errors.where(ErrorLog.at >= at(request.since_unix), ErrorLog.at < at(until))
    response = config_pb2.GetStatsResponse(
        total=count(summed(session, parts).get(None)), errors=session.scalar(errors) or 0
    )
    for field, column in GROUPS.items():
        getattr(response, field).extend(groups(session, parts, column, top))
    for field, seconds in WINDOWS.items():
        getattr(response, field).CopyFrom(count(summed(session, split(until - seconds, until)).get(None)))
    if request.bucket_seconds > 0:
        buckets = series(
            session, request.since_unix, until, request.bucket_seconds, request.tz_offset_seconds
        )
        response.series.extend(buckets)
    return response
