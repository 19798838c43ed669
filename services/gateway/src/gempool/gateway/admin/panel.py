"""The admin panel: one static page (``/admin``) with its script and style, no build step, no CDN.

The page holds no data: its script asks ``/api/admin`` for everything with the session cookie, and
shows the login form when there is no session. The files are package data, read once.
"""

from functools import cache
from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
JS = "text/javascript; charset=utf-8"
SCRIPTS = ("i18n.js", "charts.js", "app.js", "overview.js", "settings.js", "keys.js", "tokens.js", "logs.js")
FILES = {"index.html": "text/html; charset=utf-8", "app.css": "text/css; charset=utf-8"} | dict.fromkeys(
    SCRIPTS, JS
)


@cache
def content(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def static(name: str) -> Response:
    return Response(content(name), media_type=FILES[name], headers=HEADERS)


def router() -> APIRouter:
    panel = APIRouter(include_in_schema=False)

    @panel.get("/admin")
    @panel.get("/admin/")
    async def page() -> Response:
        return static("index.html")

    @panel.get("/admin/{name}")
    async def asset(name: str) -> Response:
        if name not in FILES or name == "index.html":
            return Response("Not Found", status_code=404, headers=HEADERS)
        return static(name)

    return panel
