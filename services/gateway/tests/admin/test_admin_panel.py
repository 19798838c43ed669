"""The admin panel page: served with strict headers, a login form and no data without a session."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gempool.common.live import LiveSettings
from gempool.gateway.admin.panel import FILES, content
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool

ADMIN = "admin-token-panel-test-1"
KEY = "AIzaSyPanelTestKey0000000000000000000"


@pytest.fixture
async def gateway(fake_pool: tuple[FakeKeyPool, int]) -> AsyncIterator[httpx.AsyncClient]:
    pool, port = fake_pool
    pool.keys = [KEY]  # the gateway's upstream keys come from the keypool
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        live = LiveSettings(AUTH_TOKEN=ADMIN, ALLOWED_TOKENS=["team-token"])
        app.state.rt.live = Live.build(live)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def assert_hardened(response: httpx.Response) -> None:
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/admin", "/admin/"])
async def test_the_page_without_a_session_is_the_login_form_and_no_data(
    gateway: httpx.AsyncClient, path: str
) -> None:
    response = await gateway.get(path)
    assert_hardened(response)
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<form id="login-form"' in page and 'type="password"' in page
    assert '<script src="/admin/app.js"' in page and 'href="/admin/app.css"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script (the CSP forbids it)"
    assert " style=" not in page and "<style" not in page
    assert "http://" not in page and "https://" not in page, "nothing from the internet"
    for secret in (ADMIN, KEY, "team-token", KEY[-4:]):
        assert secret not in page
    assert (await gateway.get("/api/admin/settings")).status_code == 401


@pytest.mark.parametrize(
    ("path", "kind"), [("/admin/app.js", "text/javascript"), ("/admin/app.css", "text/css")]
)
async def test_script_and_style_are_served_with_their_types(
    gateway: httpx.AsyncClient, path: str, kind: str
) -> None:
    response = await gateway.get(path)
    assert_hardened(response)
    assert response.headers["content-type"].split(";")[0] == kind
    assert response.content == content(path.rsplit("/", 1)[1])


def test_the_sources_hold_no_key_material_and_reach_only_the_admin_api() -> None:
    script = content("app.js").decode()
    for name in FILES:
        source = content(name).decode()
        assert not re.search(r"AIza[0-9A-Za-z_-]{10,}", source), name
        assert "innerHTML" not in source and "eval(" not in source, name
        assert not re.search(r"https?://", source), name
    fetched = re.findall(r"fetch\(([^,)]+)", script)
    assert fetched and all(target.strip().startswith(("API", "`${API}")) for target in fetched), fetched
    assert script.count("fetch(") == script.count('credentials: "same-origin"')
    assert "/export" not in script, "the export is a download link only, never read into the page"


async def test_pages_are_not_in_the_api_schema(gateway: httpx.AsyncClient) -> None:
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/admin")]
