"""``/openai/v1/...``: Google's own OpenAI-compatible endpoint (``{BASE_URL}/openai/...``), with pool
keys and the same attempt loop. Answers pass through untouched; errors get OpenAI's shape."""

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native.files import isolation
from gempool.gateway.native.routes import authorize, query_without_key
from gempool.gateway.openai.adapters import OpenAIAdapter
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Runtime

PASSTHROUGH = OpenAIAdapter()
_SEGMENT = re.compile(r"^[A-Za-z0-9_.:-]+$")


def valid_path(path: str) -> bool:
    """Plain segments only: no ``..`` that could climb out of ``/v1beta/openai/``."""
    segments = path.split("/")
    return all(_SEGMENT.match(s) and s not in (".", "..") for s in segments)


def request_model(body: bytes) -> tuple[str, bool]:
    """``(model, stream)`` named by a JSON body (``models/`` dropped), for key choice and relaying."""
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return "", False
    if not isinstance(parsed, dict):
        return "", False
    model = parsed.get("model")
    return (model.removeprefix("models/") if isinstance(model, str) else ""), parsed.get("stream") is True


async def forward_to_google(rt: Runtime, request: Request, path: str) -> Response:
    live = await authorize(rt, request, Dialect.OPENAI)
    if isinstance(live, Response):
        return live
    if not valid_path(path):
        return error_response(Dialect.OPENAI, 404, f"Unknown path {request.url.path}.")
    body = await request.body() if request.method == "POST" else b""
    if (denied := isolation.refused(rt, live, request, body, Dialect.OPENAI)) is not None:
        return denied
    model, stream = request_model(body)
    call = Call(
        Dialect.OPENAI,
        "openai.passthrough",
        model,
        f"/v1beta/openai/{path}",
        body=body,
        http_method=request.method,
        query=query_without_key(request),
        headers={"content-type": request.headers.get("content-type", "application/json")},
        stream=stream,
        sse=stream,
        adapter=PASSTHROUGH,
        bearer=True,  # as Google documents for this endpoint
    )
    return await forward(rt, live, call)
