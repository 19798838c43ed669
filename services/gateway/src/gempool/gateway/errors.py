"""gempool's own errors, in the caller's dialect."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json"

# HTTP status -> Google's canonical status name.
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# HTTP status -> OpenAI error type.
OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class Dialect(StrEnum):
    GEMINI = "gemini"
    OPENAI = "openai"


def error_response(
    dialect: Dialect,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any]
    if dialect is Dialect.OPENAI:
        body = {
            "error": {
                "message": message,
                "type": OPENAI_TYPE.get(status, "api_error"),
                "param": param,
                "code": code or GOOGLE_STATUS.get(status, "UNKNOWN").lower(),
            }
        }
    else:
        body = {"error": {"code": status, "message": message, "status": GOOGLE_STATUS.get(status, "UNKNOWN")}}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=dict(headers or {}))
