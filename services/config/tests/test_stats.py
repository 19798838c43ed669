"""Statistics computed in SQL, checked against data whose answers are known."""

from collections.abc import Callable

import pytest

from gempool.api.config.v1 import config_pb2
from gempool.config import logquery, stats
from gempool.config.store import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY, HOUR = 86400, 3600


def log(at: float, model: str, token: str, key: str, status: int) -> config_pb2.RequestLog:
    ok = status == 200
    return config_pb2.RequestLog(
        at_unix=at,
        model=model,
        token_name=token,
        key_masked=key,
        status=status,
        latency_seconds=1.0 if ok else 0.5,
        tokens_in=10 if ok else 0,
        tokens_out=5 if ok else 0,
    )


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    store = make_store()
    rows = [log(T0 + i * 60, "model-a", "team-1", "AIza...k111", 200) for i in range(10)]
    rows += [log(T0 + HOUR + i * 60, "model-b", "team-2", "AIza...k222", 429) for i in range(5)]
    rows += [log(T0 + DAY - 30, "model-a", "team-2", "AIza...k111", 200) for _ in range(3)]
    rows += [log(T0 - 1, "model-c", "team-3", "AIza...k333", 200), log(T0 + DAY, "model-c", "x", "y", 200)]
    errors = [config_pb2.ErrorLog(at_unix=t, status=429) for t in (T0 + HOUR, T0 + HOUR + 1, T0 - 5)]
    store.write_logs(rows, errors)
    return store


def get(store: Store, **fields: int | float) -> config_pb2.GetStatsResponse:
    request = config_pb2.GetStatsRequest(since_unix=T0, until_unix=T0 + DAY, **fields)  # type: ignore[arg-type]
    return store.run(stats.get_stats, request)


def calls(groups: object) -> list[tuple[str, int, int]]:
    return [(g.name, g.count.calls, g.count.success) for g in groups]  # type: ignore[attr-defined]


def test_totals_groups_and_windows(store: Store) -> None:
    reply = get(store)
    total = reply.total
    assert (total.calls, total.success, total.tokens_in, total.tokens_out) == (18, 13, 130, 65)
    assert total.success_rate == pytest.approx(13 / 18)
    assert total.avg_latency_seconds == pytest.approx((13 * 1.0 + 5 * 0.5) / 18)
    assert calls(reply.by_model) == [("model-a", 13, 13), ("model-b", 5, 0)]
    assert calls(reply.by_token) == [("team-1", 10, 10), ("team-2", 8, 3)]
    assert calls(reply.by_key) == [("AIza...k111", 13, 13), ("AIza...k222", 5, 0)]
    assert reply.errors == 2 and list(reply.series) == []
    windows = (reply.last_minute.calls, reply.last_hour.calls, reply.last_day.calls)
    assert windows == (3, 3, 18)
    assert calls(get(store, top=1).by_model) == [("model-a", 13, 13)]


def test_series_by_hour_and_by_local_day(store: Store) -> None:
    hourly = get(store, bucket_seconds=HOUR).series
    assert [(b.start_unix - T0, b.count.calls, b.count.success) for b in hourly] == [
        (0, 10, 10),
        (HOUR, 5, 0),
        (23 * HOUR, 3, 3),
    ]
    # UTC+8: local days begin at 16:00 UTC, so the last three calls belong to the next local day
    daily = get(store, bucket_seconds=DAY, tz_offset_seconds=8 * HOUR).series
    assert [(b.start_unix - T0, b.count.calls) for b in daily] == [(-8 * HOUR, 15), (16 * HOUR, 3)]


def test_partial_hours_minutes_and_half_hour_zones_read_the_logs(store: Store) -> None:
    # from 5 past midnight to 20 s before the next: whole hours from the rollup, the ends from the logs
    mixed = store.run(
        stats.get_stats, config_pb2.GetStatsRequest(since_unix=T0 + 300, until_unix=T0 + DAY - 20)
    )
    assert (mixed.total.calls, mixed.total.success) == (13, 8)
    assert calls(mixed.by_model) == [("model-a", 8, 8), ("model-b", 5, 0)]
    minutes = get(store, bucket_seconds=60).series
    assert [(b.start_unix - T0, b.count.calls) for b in minutes[:3]] == [(0, 1), (60, 1), (120, 1)]
    assert len(minutes) == 10 + 5 + 1
    # UTC+5:30: local days begin at 18:30 UTC, which no whole UTC hour fits
    daily = get(store, bucket_seconds=DAY, tz_offset_seconds=19800).series
    assert [(b.start_unix - T0, b.count.calls) for b in daily] == [(-19800, 15), (DAY - 19800, 3)]


def test_stats_count_requests_served_even_after_their_logs_are_deleted(store: Store) -> None:
    wipe = config_pb2.DeleteLogsRequest(kind=config_pb2.LOG_KIND_REQUEST, all=True)
    store.run(logquery.delete_logs, wipe)
    assert get(store).total.calls == 18


def test_keys_alike_masked_stay_apart_and_calls_without_a_key_are_their_own_row(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    rows = [log(T0 + i, "m", "t", "AIza...same", 200) for i in range(3)]
    for row in rows[:2]:
        row.key_id = "id-one"
    rows[2].key_id = "id-two"
    rows += [log(T0 + 10, "m", "t", "", 503), log(T0 + 11, "m", "t", "AIza...same", 429)]
    rows[-1].key_id, rows[-1].attempts = "id-two", 3
    store.write_logs(rows, [])
    by_key = get(store).by_key
    assert [(g.key_id, g.name, g.count.calls) for g in by_key] == [
        ("id-one", "AIza...same", 2),
        ("id-two", "AIza...same", 2),
        ("", "", 1),
    ]
    total = get(store).total
    assert (total.rate_limited, total.retried) == (1, 1)
    one = store.run(
        stats.get_stats,
        config_pb2.GetStatsRequest(since_unix=T0, until_unix=T0 + DAY, key_id="id-two", bucket_seconds=HOUR),
    )
    assert (one.total.calls, one.total.rate_limited) == (2, 1)
    assert [b.count.calls for b in one.series] == [2]
