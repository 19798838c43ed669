"""Time math: retryDelay durations and the Pacific midnight when daily quotas reset."""

from datetime import UTC, datetime

import pytest

from gempool.common.googleerror import parse_duration, parse_error, seconds_to_pacific_midnight


@pytest.mark.parametrize(("text", "seconds"), [("39s", 39.0), ("1.5s", 1.5), ("0.100s", 0.1), ("0s", 0.0)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "39", "1m", "-3s", "abc"])
def test_parse_duration_rejects_non_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("now", "hours"),
    [
        (datetime(2025, 7, 1, 12, 0, tzinfo=UTC), 19),  # summer: midnight PDT is 07:00 UTC
        (datetime(2025, 1, 15, 12, 0, tzinfo=UTC), 20),  # winter: midnight PST is 08:00 UTC
        (datetime(2025, 7, 1, 6, 59, tzinfo=UTC), 1 / 60),  # one minute before the reset
        (datetime(2025, 3, 9, 8, 0, tzinfo=UTC), 23),  # midnight PST on the day clocks spring forward: 23 h
    ],
)
def test_seconds_to_pacific_midnight(now: datetime, hours: float) -> None:
    assert seconds_to_pacific_midnight(now) == pytest.approx(hours * 3600)


def test_parse_error_reads_retry_info_and_quota_ids() -> None:
    raw = (
        b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota","details":['
        b'{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"A-PerDay"}]},'
        b'{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}'
    )
    error = parse_error(raw)
    assert error is not None and error.retry_delay == 7 and error.quota_ids == ("A-PerDay",)
