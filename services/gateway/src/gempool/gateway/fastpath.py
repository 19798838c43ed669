"""A short way in for Gemini-native model calls (``POST .../models/{model}:{method}``).

FastAPI wraps every request in several middlewares and walks every route in order; for the
calls that carry nearly all traffic that costs more than the gateway's own work. This pure ASGI
middleware sits just inside Starlette's error handler and hands those calls straight to their
route; everything else (admin, OpenAI, lists, docs) takes the ordinary way.
"""

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

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
                        await route.handle(scope, receive, send)
                        return
        await self.app(scope, receive, send)
