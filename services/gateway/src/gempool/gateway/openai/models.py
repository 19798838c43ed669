"""``GET /v1/models`` in OpenAI's shape: the native list's models (same filter, derived names)."""

from typing import Any

import orjson
from starlette.responses import Response

from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native import models as native
from gempool.gateway.openai.failures import upstream_error
from gempool.gateway.runtime import Live, Runtime

VERSION = "v1beta"


def openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "google"}


def model_names(upstream: list[native.Model], live: Live) -> list[str]:
    """The native list's names, with ``{CREATE_IMAGE_MODEL}-chat`` after the image model."""
    names: list[str] = []
    image_model = live.settings.CREATE_IMAGE_MODEL
    for model in native.visible_models(upstream, live.settings):
        name = native.short_name(model)
        names.append(name)
        if name == image_model and f"{name}-chat" not in live.settings.FILTERED_MODELS:
            names.append(f"{name}-chat")
    return names


async def _names(rt: Runtime, live: Live) -> list[str] | Response:
    upstream = await native.catalog(rt).upstream_models(rt, live, VERSION)
    if isinstance(upstream, Response):
        return _as_openai(upstream)
    return model_names(upstream, live)


def _as_openai(response: Response) -> Response:
    return upstream_error(response.status_code, bytes(response.body))


async def list_models(rt: Runtime, live: Live) -> Response:
    names = await _names(rt, live)
    if isinstance(names, Response):
        return names
    payload = {"object": "list", "data": [openai_model(n) for n in names]}
    return Response(orjson.dumps(payload), media_type="application/json")


async def get_model(rt: Runtime, live: Live, name: str) -> Response:
    names = await _names(rt, live)
    if isinstance(names, Response):
        return names
    name = name.removeprefix("models/")
    if name not in names:
        return error_response(
            Dialect.OPENAI, 404, f"The model {name!r} does not exist.", code="model_not_found"
        )
    return Response(orjson.dumps(openai_model(name)), media_type="application/json")
