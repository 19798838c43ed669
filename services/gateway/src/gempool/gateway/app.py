"""The gateway's ASGI app: ``create_app(settings)`` wires routes, lifespan and metrics."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from gempool.api.imagehost.v1 import imagehost_pb2
from gempool.common.tasks import stop_tasks
from gempool.common.watch import follow_settings
from gempool.gateway.access.bodylimit import BodyLimits, dialect_of
from gempool.gateway.admin import api as admin_api
from gempool.gateway.admin import docs, panel
from gempool.gateway.errors import error_response
from gempool.gateway.exposition import exposition, worker_exited
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.native import routes as gemini
from gempool.gateway.native import vertex
from gempool.gateway.openai import routes as openai_routes
from gempool.gateway.pipeline.fastpath import GatewayApp
from gempool.gateway.runtime import Runtime
from gempool.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings, registry: CollectorRegistry | None = None, *, handle_signals: bool = False
) -> FastAPI:
    """The app; with ``handle_signals`` (a served process) SIGTERM starts the drain (see shutdown)."""
    registry = registry or CollectorRegistry()
    rt = Runtime(settings, GatewayMetrics(registry))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await rt.open()
        # uvicorn installed its handlers before the lifespan starts: ours run before them
        restore = rt.drain.on_signals() if handle_signals else None
        watcher = asyncio.create_task(follow_settings(rt.config_channel, rt.apply))
        try:
            yield
        finally:
            if restore is not None:
                restore()
            await stop_tasks(watcher)
            await rt.close()
            worker_exited()

    app = GatewayApp(title="gempool", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.rt = rt
    native = gemini.routes(rt)
    # GET /v1/models belongs to both dialects: OpenAI's handler goes first and hands a request that
    # authenticated the Gemini way to the native one. The other OpenAI routes come after the native
    # ones, so native requests never pay for matching them. Routes are added as they are, not
    # through include_router, whose wrapper costs every later request tens of microseconds.
    app.router.routes.extend(openai_routes.models_router(rt, {r.path: r.endpoint for r in native}).routes)
    app.include_router(admin_api.router())
    app.include_router(panel.router())
    app.include_router(docs.router())  # Swagger UI from a package, not a CDN
    app.router.routes.extend(native)
    app.router.routes.extend(vertex.routes(rt))
    app.router.routes.extend(openai_routes.router(rt).routes)
    app.fast_routes = native  # model calls skip FastAPI's layers
    app.body_limits = BodyLimits(settings.MAX_REQUEST_BYTES, settings.ADMIN_MAX_REQUEST_BYTES)
    app.add_exception_handler(HTTPException, _http_error)
    _add_service_routes(app, rt, registry)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in the caller's dialect, not FastAPI's ``detail``."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/admin/"):  # the panel's own API keeps FastAPI's shape
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 404:
        message = f"{request.method} {request.url.path} is not a path of this gateway (see /docs)."
    elif exc.status_code == 405:
        message = f"{request.url.path} does not accept {request.method}."
    else:
        message = str(exc.detail)
    return error_response(dialect_of(request), exc.status_code, message, headers=exc.headers)


def _add_service_routes(app: FastAPI, rt: Runtime, registry: CollectorRegistry) -> None:
    metrics_body = exposition(registry)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        """A person who opens the gateway's address in a browser lands on the admin panel."""
        return RedirectResponse("/admin", status_code=307)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(metrics_body(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        """Ready once settings arrived, until the process is told to stop (load balancers move on)."""
        if rt.drain.stopping:
            return JSONResponse({"status": "stopping"}, status_code=503)
        if rt.live is None:
            return JSONResponse({"status": "waiting for settings"}, status_code=503)
        return JSONResponse({"status": "ready", "settings_revision": rt.live.revision})

    @app.get("/images/{name}", include_in_schema=False)
    async def image(name: str, request: Request) -> Response:
        try:
            found = await rt.imagehost.Fetch(imagehost_pb2.FetchRequest(name=name), timeout=10)
        except grpc.aio.AioRpcError as exc:
            return _image_error(request, exc)
        headers = {"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"}
        return Response(found.data, media_type=found.mime_type or "application/octet-stream", headers=headers)


def _image_error(request: Request, exc: grpc.aio.AioRpcError) -> Response:
    """The imagehost's own words only for "no such image"; any other failure is ours, and its
    details (the imagehost's address among them) stay in our log."""
    if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
        return error_response(dialect_of(request), 404, exc.details() or "No such image.")
    log.warning("imagehost unavailable", extra={"code": exc.code().name, "error": exc.details()})
    message = "Images are unavailable for a moment (gempool's image store does not answer); retry shortly."
    return error_response(dialect_of(request), 503, message, headers={"retry-after": "5"})
