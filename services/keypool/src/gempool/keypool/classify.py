"""Pure policy: what one upstream outcome means for the key that served it."""

import enum
from dataclasses import dataclass
from datetime import datetime

from gempool.api.keypool.v1 import keypool_pb2
from gempool.common.googleerror import GoogleError, parse_error, seconds_to_pacific_midnight

# ErrorInfo reasons that condemn the key itself (not the request, not the model).
KEY_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
        "CONSUMER_SUSPENDED",
        "SERVICE_DISABLED",
        "BILLING_DISABLED",
    }
)
KEY_MESSAGES = ("api key not valid", "api key expired", "api key was reported as leaked")
# A 403 about a resource (a file another key's project holds) is the request's fault, not the key's.
RESOURCE_DENIALS = ("permission to access the file", "permission to access cachedcontent")
MIN_COOLDOWN = 1.0
# A key rate limited again right after its cooldown (on probation) cools twice as long, up to this.
BACKOFF_CAP = 3600.0
_T = keypool_pb2


class Action(enum.Enum):
    NONE = "none"
    COOL = "cool"  # cool (key, model) for cooldown_seconds
    FAIL = "fail"  # one more consecutive failure, shown in the panel; never retires the key
    RETIRE = "retire"  # retire the key for every model at once


@dataclass(frozen=True, slots=True)
class Outcome:
    http_status: int
    error_body: bytes = b""
    transport: keypool_pb2.Transport.ValueType = keypool_pb2.TRANSPORT_OK
    empty_answer: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: int  # keypool_pb2.Verdict
    retry: bool
    kind: str  # short, bounded cause: a metrics label
    action: Action = Action.NONE
    cooldown_seconds: float = 0.0
    reason: str = ""
    backoff_cap: float = 0.0  # a repeated cooldown doubles up to this; 0: exactly cooldown_seconds


SUCCESS = Decision(_T.VERDICT_SUCCESS, False, "ok", reason="ok")


def classify(outcome: Outcome, *, now: datetime, default_cooldown: float) -> Decision:
    """Map an attempt's outcome to a verdict and what the pool must do about the key."""
    status = outcome.http_status
    if outcome.transport == _T.TRANSPORT_CLIENT_GONE:
        return Decision(_T.VERDICT_CLIENT_ERROR, False, "client_gone", reason="client went away")
    if outcome.transport in (_T.TRANSPORT_TIMEOUT, _T.TRANSPORT_CONNECT_ERROR):
        # The way to Google failed, not the key: noted, never a step towards retirement.
        name = _T.Transport.Name(outcome.transport).removeprefix("TRANSPORT_").lower()
        return Decision(_T.VERDICT_TRANSIENT, True, name, Action.FAIL, reason=f"transport {name}")
    if status == 200:
        if outcome.empty_answer:
            return Decision(_T.VERDICT_TRANSIENT, True, "empty_answer", reason="empty answer")
        return SUCCESS
    error = parse_error(outcome.error_body) or GoogleError(code=status)
    if status == 429:
        return _rate_limited(error, now, default_cooldown)
    if _key_is_bad(status, error):
        return Decision(
            _T.VERDICT_KEY_RETIRED, True, "bad_key", Action.RETIRE, reason=_describe(status, error)
        )
    if status >= 500 or status == 0:
        return _server_error(status, error)
    return Decision(_T.VERDICT_CLIENT_ERROR, False, "client_error", reason=_describe(status, error))


def _key_is_bad(status: int, error: GoogleError) -> bool:
    if status in (401, 403) or error.status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return not any(m in error.message.lower() for m in RESOURCE_DENIALS)
    if status != 400:
        return False
    message = error.message.lower()
    return bool(KEY_REASONS.intersection(error.reasons)) or any(m in message for m in KEY_MESSAGES)


def _rate_limited(error: GoogleError, now: datetime, default_cooldown: float) -> Decision:
    """Cool for Google's RetryInfo; a daily quota until it resets (exact), others back off when repeated."""
    seconds = error.retry_delay if error.retry_delay is not None else default_cooldown
    reason, kind, cap = "rate limited", "rate_limit", BACKOFF_CAP
    daily = next((q for q in error.quota_ids if "PerDay" in q), None)
    if daily is not None:
        seconds = max(seconds, seconds_to_pacific_midnight(now))
        reason, kind, cap = f"daily quota {daily}", "daily_quota", 0.0
    elif error.quota_ids:
        reason = f"quota {error.quota_ids[0]}"
    cooldown = max(seconds, MIN_COOLDOWN)
    return Decision(_T.VERDICT_KEY_COOLING, True, kind, Action.COOL, cooldown, reason, backoff_cap=cap)


def _server_error(status: int, error: GoogleError) -> Decision:
    # A 5xx is Google's (or a proxy's) trouble, never the key's: noted, never a retirement.
    # 503 UNAVAILABLE ("The model is overloaded") is the model's, and not even noted on the key.
    overloaded = status == 503
    action = Action.NONE if overloaded else Action.FAIL
    kind = "overloaded" if overloaded else "server_error"
    return Decision(_T.VERDICT_TRANSIENT, True, kind, action, reason=_describe(status, error))


def _describe(status: int, error: GoogleError) -> str:
    head = " ".join(p for p in (str(status or "no answer"), error.status, *error.reasons[:1]) if p)
    message = error.message.strip()
    text = f"{head}: {message}" if message else head
    return text if len(text) <= 200 else text[:197] + "..."
