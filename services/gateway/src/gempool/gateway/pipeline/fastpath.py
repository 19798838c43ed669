"""A short way in for Gemini-native model calls (``POST .../models/{model}:{method}``).

FastAPI wraps every request in several middlewares (error page, telemetry, body limit, exception
handlers) that each wrap ``send`` again, and walks every route in order; for the calls that carry
nearly all traffic that costs more than the gateway's own work. ``GatewayApp`` puts this pure ASGI
layer outside all of them: it hands those calls straight to their endpoint and answers an
unexpected error itself, in Google's shape. Everything else (admin, OpenAI, lists, docs) takes the
ordinary way.
"""

import logging

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gempool.gateway.access.bodylimit import BodyLimit, BodyLimits
from gempool.gateway.errors import Dialect, error_response

log = logging.getLogger(__name__)

PREFIXES = ("/v1beta/models/", "/v1/models/", "/gemini/v1beta/models/", "/gemini/v1/models/")


class NativeFastPath:
    def __init__(self, app: ASGIApp, routes: list[Route]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(PREFIXES) and ":" in path:
                for route in self.routes:
                    match, child = route.matches(scope)
                    if match is Match.FULL:
                        scope.update(child)
                        await self._serve(route, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    @staticmethod
    async def _serve(route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await route.endpoint(Request(scope, receive))
        except ClientDisconnect:  # left while sending the body: nobody to answer
            return
        except Exception:  # nothing was sent yet: the client still gets an answer in its dialect
            log.exception("unexpected error", extra={"path": scope["path"]})
            response = error_response(Dialect.GEMINI, 500, "gempool failed to handle this request.")
        # An error while the body streams ends the connection, as Starlette does once a response began.
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI with the native fast path outside its middleware stack, and the body size limit
    outside both (before routing and auth)."""

    fast_routes: list[Route]
    body_limits: BodyLimits

    def build_middleware_stack(self) -> ASGIApp:
        inner = NativeFastPath(super().build_middleware_stack(), getattr(self, "fast_routes", []))
        limits = getattr(self, "body_limits", None)
        return BodyLimit(inner, limits) if limits is not None else inner
