"""The API documentation (``/docs``): Swagger UI served from a Python package, never from a CDN.

FastAPI's own page loads Swagger UI from jsdelivr, which an air-gapped install cannot reach and
which would run outside code beside the admin API. The ``fastapi-offline`` package ships Swagger
UI's built files (Apache-2.0, licence in the package); the gateway serves them itself, with a
start-up script of its own instead of an inline one, so the page's CSP allows only this origin.
"""

from functools import cache
from importlib import resources

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.responses import Response

OPENAPI_URL = "/openapi.json"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
ASSETS = {  # served name -> (file in the package, media type)
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": ("favicon.png", "image/png"),
}
PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gempool - API documentation</title>
<link rel="icon" type="image/png" href="/docs/favicon.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
INIT = f"""window.ui = SwaggerUIBundle({{
  url: "{OPENAPI_URL}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  showExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
}});
""".encode()


@cache
def asset(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", ASSETS[name][0]).read_bytes()


def router() -> APIRouter:
    docs = APIRouter(include_in_schema=False)

    @docs.get("/docs")
    async def page() -> Response:
        return Response(PAGE, media_type="text/html; charset=utf-8", headers=HEADERS)

    @docs.get("/docs/init.js")
    async def init() -> Response:
        return Response(INIT, media_type="text/javascript; charset=utf-8", headers=HEADERS)

    @docs.get("/docs/{name}")
    async def static(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404)
        headers = HEADERS | {"cache-control": "public, max-age=86400"}
        return Response(asset(name), media_type=ASSETS[name][1], headers=headers)

    return docs
