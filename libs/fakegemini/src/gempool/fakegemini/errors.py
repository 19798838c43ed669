"""Google's error bodies, shaped exactly as the Gemini API sends them."""

from typing import Any

import orjson

_RATE_LIMITS = "https://ai.google.dev/gemini-api/docs/rate-limits"


def body(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return orjson.dumps({"error": error}, option=orjson.OPT_INDENT_2) + b"\n"


def invalid_key() -> tuple[int, bytes]:
    message = "API key not valid. Please pass a valid API key."
    return 400, body(
        400,
        "INVALID_ARGUMENT",
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ],
    )


def leaked_key() -> tuple[int, bytes]:
    return 403, body(
        403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."
    )


def suspended(key: str) -> tuple[int, bytes]:
    """A suspended key: Google's message names the whole key (``api_key:AIza...``)."""
    return 403, body(
        403,
        "PERMISSION_DENIED",
        f"Permission denied: Consumer 'api_key:{key}' has been suspended.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "CONSUMER_SUSPENDED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "generativelanguage.googleapis.com",
                    "consumer": "projects/578829824020",
                },
            }
        ],
    )


def quota(model: str, retry_seconds: float, per_day: bool) -> tuple[int, bytes]:
    period = "PerDay" if per_day else "PerMinute"
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    limit = "250" if per_day else "10"
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        f"information on this error, head to: {_RATE_LIMITS}.\n"
        f"* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\n"
        f"Please retry in {retry_seconds:.1f}s."
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": metric,
                    "quotaId": f"GenerateRequests{period}PerProjectPerModel-FreeTier",
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": limit,
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more about Gemini API quotas", "url": _RATE_LIMITS}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_seconds:g}s"},
    ]
    return 429, body(429, "RESOURCE_EXHAUSTED", message, details)


def overloaded() -> tuple[int, bytes]:
    return 503, body(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def internal() -> tuple[int, bytes]:
    return 500, body(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    )


def model_not_found(model: str, version: str, method: str) -> tuple[int, bytes]:
    return 404, body(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for {method}. "
        "Call ListModels to see the list of available models and their supported methods.",
    )


def bad_request(message: str) -> tuple[int, bytes]:
    return 400, body(400, "INVALID_ARGUMENT", message)


def missing_key() -> tuple[int, bytes]:
    return 403, body(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


def not_found(message: str) -> tuple[int, bytes]:
    return 404, body(404, "NOT_FOUND", message)
