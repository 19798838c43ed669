"""Gemini-native routes: ``/v1beta``, ``/v1`` and ``/gemini/v1beta`` (and ``/gemini/v1``)."""

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.access.auth import client_of, presented_token
from gempool.gateway.access.clientthrottle import locked_out
from gempool.gateway.access.tokens import ADMIN, CALLER
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native import models
from gempool.gateway.native.conveniences import SEARCH, apply_conveniences, may_apply, parse_model
from gempool.gateway.native.faststream import fake_stream
from gempool.gateway.native.files import api as files
from gempool.gateway.native.files import isolation
from gempool.gateway.native.files.store import store
from gempool.gateway.native.grounding import SEARCH_LINKS
from gempool.gateway.native.streamopt import StreamOptimizer
from gempool.gateway.paths import bad_model
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

PREFIXES = {"/v1beta": "v1beta", "/v1": "v1", "/gemini/v1beta": "v1beta", "/gemini/v1": "v1"}
CHECKED_METHODS = {"generateContent", "streamGenerateContent"}
PAID_METHODS = {"predict", "predictLongRunning"}  # Imagen and Veo need billing: PAID_KEY
KNOWN = {
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "embedContent",
    "batchEmbedContents",
    "predict",
}

Handler = Callable[[Request], Awaitable[Response]]


async def authorize(rt: Runtime, request: Request, dialect: Dialect) -> Live | Response:
    """The live settings when the request carries one of our team tokens, else the error to send.

    A right token costs lookups in memory only; a wrong one (or the admin token) is counted per
    client address, and an address over the limit is refused before its token is looked at.
    """
    live = rt.live
    if live is None:
        rt.metrics.refused.labels("starting").inc()
        return error_response(
            dialect, 503, "gempool is starting: waiting for settings from the config service."
        )
    locked = rt.client_lockouts.locked_for(client_of(request))
    if locked > 0:
        rt.metrics.refused.labels("locked_out").inc()
        return locked_out(dialect, locked)
    token, _ = presented_token(request)
    if not token:
        rt.metrics.refused.labels("missing_token").inc()
        return error_response(
            dialect, 401, "Missing API token: send x-goog-api-key, ?key= or Authorization: Bearer."
        )
    caller = live.callers.find(token)
    if caller is None or caller is ADMIN:
        client = client_of(request)
        return await rt.client_lockouts.refuse(live.settings, client, dialect, admin=caller is ADMIN)
    if not caller.enabled:
        rt.metrics.refused.labels("disabled_token").inc()
        return error_response(dialect, 401, f"The API token {caller.name!r} is disabled.")
    CALLER.set(caller)  # forward() applies its limits and names it in the logs
    return live


def query_without_key(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k != "key"]


def model_call(
    request: Request, version: str, name: str, method: str, body: bytes, want_key_id: str = ""
) -> Call:
    query = query_without_key(request)
    return Call(
        Dialect.GEMINI,
        f"gemini.{method}" if method in KNOWN else "gemini.other",
        name,
        f"/{version}/models/{name}:{method}",
        body=body,
        query=query,
        headers=dict(request.headers),
        stream=method == "streamGenerateContent",
        sse=("alt", "sse") in query,
        check_empty=method in CHECKED_METHODS,
        pool=kp.POOL_PAID if method in PAID_METHODS else kp.POOL_UNSPECIFIED,
        want_key_id=want_key_id,
    )


def shows_search_links(live: Live, name: str) -> bool:
    """SHOW_SEARCH_LINK applies to ``-search`` models only."""
    return (
        live.settings.SHOW_SEARCH_LINK and name.endswith(SEARCH) and parse_model(name, live.settings).search
    )


def conveniences(live: Live, name: str, method: str, body: bytes) -> tuple[str, bytes]:
    """The upstream model and body; the body is parsed only when a convenience could apply."""
    settings = live.settings
    if method not in CHECKED_METHODS:
        return parse_model(name, settings).base, body
    if not may_apply(name, settings):
        return name, body
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None  # the upstream says what is wrong with it
    if not isinstance(parsed, dict):
        return parse_model(name, settings).base, body
    upstream_model, parsed = apply_conveniences(name, parsed, settings)
    return upstream_model, orjson.dumps(parsed)


def list_models_handler(rt: Runtime, version: str) -> Handler:
    """``GET models`` of ``version`` in Google's list shape (the native and Vertex express routes)."""

    async def list_models(request: Request) -> Response:
        live = await authorize(rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        params = request.query_params
        return await models.list_models(
            rt, live, version, params.get("pageSize", ""), params.get("pageToken", "")
        )

    return list_models


def _handlers(rt: Runtime, version: str) -> tuple[Handler, Handler]:
    list_models = list_models_handler(rt, version)

    async def model_action(request: Request) -> Response:
        live = await authorize(rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        name, colon, method = request.path_params["rest"].partition(":")
        name = name.removeprefix("models/")
        refused = bad_model(Dialect.GEMINI, name, method if colon else None)
        if refused is not None:
            return refused
        if request.method == "GET" and not method:
            return await _get_model(rt, live, request, version, name)
        if not name or not method or request.method != "POST":
            message = f"Unknown path {request.url.path}: expected POST models/MODEL:METHOD."
            return error_response(Dialect.GEMINI, 404, message)
        return await _model_post(rt, live, request, version, name, method)

    return list_models, model_action


async def _get_model(rt: Runtime, live: Live, request: Request, version: str, name: str) -> Response:
    derived = await models.get_derived_model(rt, live, version, name)
    if derived is not None:
        return derived
    call = Call(
        Dialect.GEMINI,
        "gemini.models.get",
        name,
        f"/{version}/models/{name}",
        http_method="GET",
        query=query_without_key(request),
        headers=dict(request.headers),
    )
    return await forward(rt, live, call)


async def _model_post(
    rt: Runtime, live: Live, request: Request, version: str, name: str, method: str
) -> Response:
    links = method in CHECKED_METHODS and shows_search_links(live, name)
    body = await request.body()
    if (denied := isolation.refused(rt, live, request, body, Dialect.GEMINI)) is not None:
        return denied
    name, body = conveniences(live, name, method, body)
    holder = store(rt).key_for(body)  # a prompt naming an uploaded file goes to its key
    call = model_call(request, version, name, method, body, holder)
    if links:
        call.adapter = SEARCH_LINKS
    return await send(rt, live, call)


async def send(rt: Runtime, live: Live, call: Call) -> Response:
    """Upstream, streamed for real (paced with STREAM_OPTIMIZER_ENABLED) or from one non-streaming
    call (FAKE_STREAM_ENABLED)."""
    if call.stream and live.settings.FAKE_STREAM_ENABLED:
        return await fake_stream(rt, live, call)
    if call.stream and live.settings.STREAM_OPTIMIZER_ENABLED:
        call.adapter = StreamOptimizer(call.adapter, live.settings)
    return await forward(rt, live, call)


def routes(rt: Runtime) -> list[Route]:
    """Model routes first (the hot path matches as early as before), then the Files API."""
    out = []
    for prefix, version in PREFIXES.items():
        list_models, model_action = _handlers(rt, version)
        out.append(Route(f"{prefix}/models", list_models, methods=["GET"]))
        out.append(Route(f"{prefix}/models/{{rest:path}}", model_action, methods=["GET", "POST"]))
    return out + files.routes(rt, authorize, PREFIXES)
