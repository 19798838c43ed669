"""OpenAI-compatible endpoints under ``/v1`` and ``/hf/v1`` (gemini-balance's alias).

Handlers read the raw body and validate it with pydantic themselves, so a bad request gets
OpenAI's error shape (400) rather than FastAPI's 422; the models still document the endpoints.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gempool.gateway.access.auth import presented_token
from gempool.gateway.errors import Dialect
from gempool.gateway.native.files import isolation
from gempool.gateway.native.routes import authorize
from gempool.gateway.openai import completions, embeddings, images, models, passthrough, speech
from gempool.gateway.openai.failures import invalid_body
from gempool.gateway.openai.schemas import (
    ChatCompletionRequest,
    EmbeddingRequest,
    ImageRequest,
    SpeechRequest,
)
from gempool.gateway.runtime import Live, Runtime

PREFIXES = ("/v1", "/hf/v1")
Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body (its $defs inlined)."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


async def parse(rt: Runtime, request: Request, model: type[M]) -> tuple[Live, M] | Response:
    live = await authorize(rt, request, Dialect.OPENAI)
    if isinstance(live, Response):
        return live
    body = await request.body()
    if (denied := isolation.refused(rt, live, request, body, Dialect.OPENAI)) is not None:
        return denied
    try:
        return live, model.model_validate_json(body)
    except ValidationError as exc:
        return invalid_body(exc)


def models_router(rt: Runtime, native_models: Mapping[str, Handler]) -> APIRouter:
    """``GET models`` under ``/v1`` and ``/hf/v1``. ``native_models`` maps ``/v1/models`` (and
    ``/v1/models/{rest:path}``) to the Gemini-native handler, which answers the clients that
    authenticated the Gemini way; these routes must come before the native ones."""
    api = APIRouter(tags=["OpenAI-compatible"])
    for prefix in PREFIXES:
        _model_routes(api, rt, prefix, native_models)
    return api


Create = Callable[[Runtime, Live, Any, str], Awaitable[Response]]
ENDPOINTS: list[tuple[str, type[BaseModel], Create, str]] = [
    ("chat/completions", ChatCompletionRequest, completions.create, "Create a chat completion"),
    (
        "embeddings",
        EmbeddingRequest,
        lambda rt, live, body, _: embeddings.create(rt, live, body),
        "Create embeddings",
    ),
    ("images/generations", ImageRequest, images.generate, "Generate images"),
    (
        "audio/speech",
        SpeechRequest,
        lambda rt, live, body, _: speech.create(rt, live, body),
        "Text to speech",
    ),
]


def _endpoint(rt: Runtime, model: type[BaseModel], create: Create) -> Handler:
    async def endpoint(request: Request) -> Response:
        parsed = await parse(rt, request, model)
        if isinstance(parsed, Response):
            return parsed
        return await create(rt, *parsed, str(request.base_url))

    return endpoint


def router(rt: Runtime) -> APIRouter:
    """Every other OpenAI route (no path of theirs is the native API's)."""
    api = APIRouter(tags=["OpenAI-compatible"])
    for prefix in PREFIXES:
        for path, model, create, summary in ENDPOINTS:
            api.add_api_route(
                f"{prefix}/{path}",
                _endpoint(rt, model, create),
                methods=["POST"],
                summary=summary,
                openapi_extra=body_schema(model),
            )

    async def to_google(request: Request, path: str) -> Response:
        return await passthrough.forward_to_google(rt, request, path)

    api.add_api_route("/openai/v1/{path:path}", to_google, methods=["GET", "POST"], include_in_schema=False)
    return api


def _model_routes(api: APIRouter, rt: Runtime, prefix: str, native: Mapping[str, Handler]) -> None:
    """``GET models``: OpenAI's shape for a Bearer token, Gemini's for x-goog-api-key or ?key=."""
    native_list, native_get = native.get(f"{prefix}/models"), native.get(f"{prefix}/models/{{rest:path}}")

    async def list_models(request: Request) -> Response:
        if native_list is not None and presented_token(request)[1] == "gemini":
            return await native_list(request)
        live = await authorize(rt, request, Dialect.OPENAI)
        return live if isinstance(live, Response) else await models.list_models(rt, live)

    async def get_model(request: Request, rest: str) -> Response:
        if native_get is not None and presented_token(request)[1] == "gemini":
            return await native_get(request)  # the same path parameter, "rest"
        live = await authorize(rt, request, Dialect.OPENAI)
        return live if isinstance(live, Response) else await models.get_model(rt, live, rest)

    api.add_api_route(f"{prefix}/models", list_models, methods=["GET"], summary="List models")
    api.add_api_route(
        f"{prefix}/models/{{rest:path}}", get_model, methods=["GET"], summary="Retrieve a model"
    )
