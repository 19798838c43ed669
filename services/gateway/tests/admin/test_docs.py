"""``/docs`` works air-gapped: the page names no outside URL and every asset it loads is served here."""

import re

from gempool.fakegemini.server import Running

from ..conftest import FakeKeyPool
from ..gateway_app import gateway_client


async def test_the_docs_page_loads_swagger_ui_from_the_gateway_itself(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        page = await gw.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert not re.search(r"(https?:)?//", page.text), "the page names an outside URL"
        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert {"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} <= set(linked)
        assets = {path: await gw.get(path) for path in linked}
        init = assets["/docs/init.js"].text
        spec = await gw.get(re.findall(r'url: "([^"]+)"', init)[0])
        missing = await gw.get("/docs/nothing.js")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp and "http" not in csp
    assert all(r.status_code == 200 and r.content for r in assets.values())
    assert "SwaggerUIBundle" in assets["/docs/swagger-ui-bundle.js"].text
    assert assets["/docs/swagger-ui.css"].headers["content-type"].startswith("text/css")
    assert spec.status_code == 200 and "/api/admin/settings" in spec.json()["paths"]
    assert missing.status_code == 404
