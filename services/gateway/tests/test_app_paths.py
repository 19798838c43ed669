"""Paths outside the APIs: a wrong path or method answers in the caller's dialect, the root leads
to the panel, metrics are served where Prometheus looks for them."""

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gempool.fakegemini.server import Running
from gempool.gateway.pipeline.fastpath import NativeFastPath

from .conftest import FakeKeyPool
from .gateway_app import TOKEN, gateway_client


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "dialect"),
    [
        ("GET", f"/v1beta/nonsense?key={TOKEN}", {}, 404, "gemini"),
        ("GET", "/v1/nonsense", {"x-goog-api-key": TOKEN}, 404, "gemini"),
        ("GET", "/nowhere", {}, 404, "gemini"),
        ("DELETE", f"/v1beta/models/gemini-2.5-flash:generateContent?key={TOKEN}", {}, 405, "gemini"),
        ("GET", "/v1/nonsense", {"authorization": f"Bearer {TOKEN}"}, 404, "openai"),
        ("GET", "/hf/v1/nonsense", {}, 404, "openai"),
        ("PUT", "/v1/chat/completions", {"authorization": f"Bearer {TOKEN}"}, 405, "openai"),
    ],
)
async def test_unknown_paths_and_methods_answer_in_the_callers_dialect(
    fake_pool: tuple[FakeKeyPool, int],
    upstream: Running,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    dialect: str,
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        response = await gw.request(method, path, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert path.split("?")[0] in error["message"]
    if dialect == "gemini":
        assert error["code"] == status and error["status"] == {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}[status]
    else:
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == {404: "not_found_error", 405: "invalid_request_error"}[status]


async def test_admin_api_keeps_its_own_error_shape(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        response = await gw.get("/api/admin/nothing-here")
    assert response.status_code == 404 and "detail" in response.json()


async def test_root_leads_to_the_panel_and_metrics_need_no_redirect(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        root = await gw.get("/")
        await gw.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            params={"key": TOKEN},
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
        metrics = await gw.get("/metrics")
    assert root.status_code == 307 and root.headers["location"] == "/admin"
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "gempool_" in metrics.text


async def test_an_unexpected_error_on_the_fast_path_is_a_500_in_googles_shape() -> None:
    async def broken(_: Request) -> Response:
        raise RuntimeError("a bug")

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ordinary way")(scope, receive, send)

    app = NativeFastPath(fallback, [Route("/v1beta/models/{rest:path}", broken, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        failed = await client.post("/v1beta/models/gemini-2.5-flash:generateContent", content=b"{}")
        other = await client.get("/v1beta/models")
    assert failed.status_code == 500
    assert failed.json()["error"] == {
        "code": 500,
        "message": "gempool failed to handle this request.",
        "status": "INTERNAL",
    }
    assert "a bug" not in failed.text and other.text == "ordinary way"
