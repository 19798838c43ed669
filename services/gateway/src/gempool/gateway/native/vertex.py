"""Vertex AI express mode: Gemini models on Vertex with VERTEX_API_KEYS, same pool semantics.

Two path shapes reach it: gemini-balance's ``/vertex-express/v1beta/models/MODEL:METHOD`` and the
google-genai SDK's (``vertexai=True`` with an API key)
``/vertex-express/v1beta1/publishers/google/models/MODEL:METHOD``. Both go to
``VERTEX_EXPRESS_BASE_URL/models/MODEL:METHOD`` with a key of the Vertex pool, conveniences applied
(SHOW_SEARCH_LINK too).

gemini-balance's paths also list models (``GET .../models``, ``GET .../models/MODEL``) in Google's
shape. Express mode keys can only count tokens and generate (Google's express mode API reference
has no list or get), so the list is the native one: the same cached catalog, fetched with a key of
the Gemini pool, the same FILTERED_MODELS and derived names.
"""

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native import models
from gempool.gateway.native.files import isolation
from gempool.gateway.native.grounding import SEARCH_LINKS
from gempool.gateway.native.routes import (
    CHECKED_METHODS,
    Handler,
    authorize,
    conveniences,
    list_models_handler,
    model_call,
    send,
    shows_search_links,
)
from gempool.gateway.paths import bad_model
from gempool.gateway.runtime import Live, Runtime

ROOT = "/vertex-express"
LISTED = {"/v1beta/models": "v1beta", "/v1/models": "v1"}  # path -> the model list's API version
PATHS = (*LISTED, "/v1beta1/publishers/google/models", "/v1/publishers/google/models")


def routes(rt: Runtime) -> list[Route]:
    def model_action(version: str) -> Handler:
        async def handler(request: Request) -> Response:
            live = await authorize(rt, request, Dialect.GEMINI)
            if isinstance(live, Response):
                return live
            name, colon, method = request.path_params["rest"].partition(":")
            name = name.removeprefix("models/") if request.method == "GET" else name
            refused = bad_model(Dialect.GEMINI, name, method if colon else None)
            if refused is not None:
                return refused
            if request.method == "GET" and name and not method:
                return await models.get_listed_model(rt, live, version, name)
            if not name or not method or request.method != "POST":
                message = f"Unknown path {request.url.path}: expected POST models/MODEL:METHOD."
                return error_response(Dialect.GEMINI, 404, message)
            return await _generate(rt, live, request, name, method)

        return handler

    out = [Route(f"{ROOT}{path}", list_models_handler(rt, v), methods=["GET"]) for path, v in LISTED.items()]
    for path in PATHS:
        methods = ["GET", "POST"] if path in LISTED else ["POST"]
        action = model_action(LISTED.get(path, "v1beta"))
        out.append(Route(f"{ROOT}{path}/{{rest:path}}", action, methods=methods))
    return out


async def _generate(rt: Runtime, live: Live, request: Request, name: str, method: str) -> Response:
    links = method in CHECKED_METHODS and shows_search_links(live, name)
    body = await request.body()
    if (denied := isolation.refused(rt, live, request, body, Dialect.GEMINI)) is not None:
        return denied
    name, body = conveniences(live, name, method, body)
    call = model_call(request, "v1beta", name, method, body)
    call = replace(
        call,
        route=call.route.replace("gemini.", "vertex.", 1),
        path=f"/models/{name}:{method}",
        pool=kp.POOL_VERTEX,
        root=live.settings.VERTEX_EXPRESS_BASE_URL,
        adapter=SEARCH_LINKS if links else call.adapter,
    )
    return await send(rt, live, call)
