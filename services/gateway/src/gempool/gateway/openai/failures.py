"""Upstream and request errors in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

import math

from pydantic import ValidationError
from starlette.responses import Response

from gempool.common.googleerror import parse_error
from gempool.gateway.errors import Dialect, error_response


def upstream_error(status: int, body: bytes) -> Response:
    """Google's error, same status, OpenAI's shape, Google's own message."""
    error = parse_error(body)
    if error is None:
        text = body[:500].decode("utf-8", "replace").strip()
        return error_response(Dialect.OPENAI, status, text or f"The upstream answered HTTP {status}.")
    headers = {}
    if status == 429 and error.retry_delay is not None:
        headers["retry-after"] = str(max(1, math.ceil(error.retry_delay)))
    message = error.message or f"The upstream answered HTTP {status}."
    return error_response(Dialect.OPENAI, status, message, code=error.status.lower() or None, headers=headers)


def bad_request(message: str, param: str | None = None) -> Response:
    return error_response(Dialect.OPENAI, 400, message, code="invalid_request_error", param=param)


def invalid_body(exc: ValidationError | ValueError) -> Response:
    """A request body that does not fit the endpoint's schema, described like OpenAI does."""
    if not isinstance(exc, ValidationError):
        return bad_request(f"The request body is not valid JSON: {exc}")
    first = exc.errors(include_url=False)[0]
    param = ".".join(str(p) for p in first["loc"]) or None
    where = f" at {param}" if param else ""
    return bad_request(f"Invalid request{where}: {first['msg']}.", param)
