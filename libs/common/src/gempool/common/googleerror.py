"""Read Google's error JSON (status, ErrorInfo, RetryInfo, QuotaFailure) and the time math around it."""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

PACIFIC = ZoneInfo("America/Los_Angeles")
_TYPE = "type.googleapis.com/google.rpc."
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)s\s*$")


@dataclass(frozen=True, slots=True)
class GoogleError:
    code: int = 0
    status: str = ""
    message: str = ""
    reasons: tuple[str, ...] = ()
    retry_delay: float | None = None
    quota_ids: tuple[str, ...] = ()


def parse_duration(text: str) -> float | None:
    """Protobuf JSON duration (``"39s"``, ``"1.5s"``) in seconds; None when not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    return float(match.group(1)) if match else None


def parse_error(body: bytes) -> GoogleError | None:
    """The ``error`` object of a Google API answer (also inside a streamed ``[...]``), or None."""
    try:
        data: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    return GoogleError(
        code=_int(error.get("code")),
        status=str(error.get("status") or ""),
        message=str(error.get("message") or ""),
        reasons=_reasons(details),
        retry_delay=_retry_delay(details),
        quota_ids=_quota_ids(details),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _reasons(details: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(str(d["reason"]) for d in details if d.get("@type") == _TYPE + "ErrorInfo" and "reason" in d)


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if detail.get("@type") == _TYPE + "RetryInfo":
            return parse_duration(detail.get("retryDelay", ""))
    return None


def _quota_ids(details: list[dict[str, Any]]) -> tuple[str, ...]:
    ids: list[str] = []
    for detail in details:
        if detail.get("@type") == _TYPE + "QuotaFailure":
            for violation in detail.get("violations") or []:
                if isinstance(violation, dict) and violation.get("quotaId"):
                    ids.append(str(violation["quotaId"]))
    return tuple(ids)


def seconds_to_pacific_midnight(now: datetime) -> float:
    """Seconds from ``now`` (aware) to the next midnight in America/Los_Angeles, when daily quotas reset."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return (midnight - now).total_seconds()
