"""Vertex AI express mode: Gemini models on Vertex with VERTEX_API_KEYS, same pool semantics.

Two path shapes reach it: gemini-balance's ``/vertex-express/v1beta/models/MODEL:METHOD`` and the
google-genai SDK's (``vertexai=True`` with an API key)
``/vertex-express/v1beta1/publishers/google/models/MODEL:METHOD``. Both go to
``VERTEX_EXPRESS_BASE_URL/models/MODEL:METHOD`` with a key of the Vertex pool, conveniences applied
(SHOW_SEARCH_LINK too).
"""

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.gemini import (
    CHECKED_METHODS,
    authorize,
    conveniences,
    model_call,
    send,
    shows_search_links,
)
from gempool.gateway.grounding import SEARCH_LINKS
from gempool.gateway.runtime import Runtime

ROOT = "/vertex-express"
PATHS = ("/v1beta/models", "/v1/models", "/v1beta1/publishers/google/models", "/v1/publishers/google/models")


def routes(rt: Runtime) -> list[Route]:
    async def vertex_action(request: Request) -> Response:
        live = authorize(rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        name, _, method = request.path_params["rest"].partition(":")
        if not name or not method:
            message = f"Unknown path {request.url.path}: expected POST models/MODEL:METHOD."
            return error_response(Dialect.GEMINI, 404, message)
        links = method in CHECKED_METHODS and shows_search_links(live, name)
        name, body = conveniences(live, name, method, await request.body())
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

    return [Route(f"{ROOT}{path}/{{rest:path}}", vertex_action, methods=["POST"]) for path in PATHS]
