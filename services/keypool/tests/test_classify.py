"""Classification of upstream outcomes against Google's real error shapes."""

import json
from datetime import UTC, datetime

import pytest

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.keypool.classify import BACKOFF_CAP, Action, Decision, Outcome, classify

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)  # 05:00 in Los Angeles (PDT)
PER_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
PER_DAY = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"


def body(code: int, status: str, message: str, *details: dict[str, object]) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status, "details": list(details)}}
    ).encode()


def error_info(reason: str) -> dict[str, object]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


def quota_failure(quota_id: str) -> dict[str, object]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"model": "gemini-2.5-pro", "location": "global"},
                "quotaValue": "50",
            }
        ],
    }


HELP: dict[str, object] = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}
INVALID_KEY = body(
    400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", error_info("API_KEY_INVALID")
)
LEAKED = body(403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key.")
OVERLOADED = body(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def rate_limited(quota_id: str, delay: str | None) -> bytes:
    details = [quota_failure(quota_id), HELP]
    if delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return body(
        429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan.", *details
    )


def decide(status: int, error: bytes = b"", **kw: object) -> Decision:
    return classify(Outcome(status, error, **kw), now=NOW, default_cooldown=60.0)  # type: ignore[arg-type]


def test_invalid_key_is_retired_and_retried_elsewhere() -> None:
    d = decide(400, INVALID_KEY)
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_KEY_RETIRED, True, Action.RETIRE)
    assert "API_KEY_INVALID" in d.reason


@pytest.mark.parametrize("reason", ["API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"])
def test_other_key_reasons_retire(reason: str) -> None:
    error = body(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", error_info(reason))
    assert decide(400, error).action is Action.RETIRE


def test_leaked_key_and_401_are_retired() -> None:
    assert decide(403, LEAKED).verdict == pb.VERDICT_KEY_RETIRED
    assert decide(401, b"").action is Action.RETIRE


def test_429_cools_for_the_stated_retry_delay() -> None:
    d = decide(429, rate_limited(PER_MINUTE, "39s"))
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_KEY_COOLING, True, Action.COOL)
    assert d.cooldown_seconds == 39.0


def test_429_without_retry_info_cools_for_the_default() -> None:
    assert decide(429, b"").cooldown_seconds == 60.0
    assert decide(429, rate_limited(PER_MINUTE, None)).cooldown_seconds == 60


def test_daily_quota_cools_until_midnight_in_los_angeles() -> None:
    d = decide(429, rate_limited(PER_DAY, "39s"))
    assert d.cooldown_seconds == 19 * 3600  # 05:00 PDT -> 00:00 PDT
    assert d.kind == "daily_quota" and "PerDay" in d.reason


def test_a_repeated_rate_limit_backs_off_but_a_daily_quota_ends_exactly_at_midnight() -> None:
    assert decide(429, rate_limited(PER_MINUTE, "39s")).backoff_cap == BACKOFF_CAP == 3600
    assert decide(429, b"").backoff_cap == BACKOFF_CAP
    assert decide(429, rate_limited(PER_DAY, "39s")).backoff_cap == 0


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_are_noted_but_never_retire_the_key(status: int) -> None:
    d = decide(status, body(status, "INTERNAL", "An internal error has occurred."))
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_TRANSIENT, True, Action.FAIL)


def test_overloaded_model_is_not_the_keys_fault() -> None:
    d = decide(503, OVERLOADED)
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_TRANSIENT, True, Action.NONE)
    assert "overloaded" in d.reason


@pytest.mark.parametrize("transport", [pb.TRANSPORT_TIMEOUT, pb.TRANSPORT_CONNECT_ERROR])
def test_transport_failures_are_noted_but_never_retire_the_key(transport: int) -> None:
    d = decide(0, transport=transport)
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_TRANSIENT, True, Action.FAIL)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, body(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified")),
        (404, body(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta")),
        (
            403,
            body(
                403,
                "PERMISSION_DENIED",
                "You do not have permission to access the File abc123 or it may not exist.",
            ),
        ),
    ],
)
def test_client_errors_go_back_to_the_client_without_penalty(status: int, error: bytes) -> None:
    d = decide(status, error)
    assert (d.verdict, d.retry, d.action) == (pb.VERDICT_CLIENT_ERROR, False, Action.NONE)


def test_client_gone_and_empty_answer_carry_no_penalty() -> None:
    assert decide(0, transport=pb.TRANSPORT_CLIENT_GONE).action is Action.NONE
    d = decide(200, empty_answer=True)
    assert (d.retry, d.action) == (True, Action.NONE)


def test_success() -> None:
    d = decide(200)
    assert (d.verdict, d.action) == (pb.VERDICT_SUCCESS, Action.NONE)


def test_streamed_error_array_and_garbage_bodies() -> None:
    assert decide(400, b"[" + INVALID_KEY + b"]").action is Action.RETIRE
    assert decide(429, b"<html>Too Many Requests</html>").cooldown_seconds == 60
