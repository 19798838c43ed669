"""Vertex express model routes: the native list, in Google's shape, with the same filter and names."""

import httpx

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.fakegemini.server import Running

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

NATIVE = {"x-goog-api-key": TOKEN}
SETTINGS = {"FILTERED_MODELS": ["gemini-2.0-flash", "gemini-2.5-pro-search"]}


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["name"] for m in response.json()["models"]]


async def test_vertex_list_is_the_native_list(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    pool, _ = fake_pool
    async with gateway_client(fake_pool, upstream, ["ok-1"], **SETTINGS) as gw:
        vertex = await gw.get("/vertex-express/v1beta/models?pageSize=1000", headers=NATIVE)
        native = await gw.get("/v1beta/models?pageSize=1000", headers=NATIVE)
        v1 = await gw.get("/vertex-express/v1/models", params={"key": TOKEN, "pageSize": "1000"})
    assert vertex.json() == native.json() and set(vertex.json()) == {"models"}
    listed = names(vertex)
    assert "models/gemini-2.0-flash" not in listed and "models/gemini-2.5-pro-search" not in listed
    assert listed.index("models/gemini-2.5-flash") + 1 == listed.index("models/gemini-2.5-flash-search")
    assert names(v1) == listed
    fetches = [c for c in upstream.fake.calls if c["method"] == "models.list"]
    assert [c["path"] for c in fetches] == ["/v1beta/models", "/v1/models"]  # cached once per version
    assert {lease.pool for lease in pool.leases} == {kp.POOL_UNSPECIFIED}  # express keys cannot list


async def test_vertex_list_pages_and_models(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"], **SETTINGS) as gw:
        first = await gw.get("/vertex-express/v1beta/models?pageSize=2", headers=NATIVE)
        token = first.json()["nextPageToken"]
        second = await gw.get(f"/vertex-express/v1beta/models?pageSize=2&pageToken={token}", headers=NATIVE)
        derived = await gw.get("/vertex-express/v1beta/models/gemini-2.5-flash-search", headers=NATIVE)
        base = await gw.get("/vertex-express/v1beta/models/models/gemini-2.5-flash", headers=NATIVE)
        hidden = await gw.get("/vertex-express/v1beta/models/gemini-2.0-flash", headers=NATIVE)
        anonymous = await gw.get("/vertex-express/v1beta/models")
    assert len(names(first)) == 2 and len(names(second)) == 2 and names(first) != names(second)
    assert derived.json()["name"] == "models/gemini-2.5-flash-search"
    assert derived.json()["supportedGenerationMethods"] == base.json()["supportedGenerationMethods"]
    assert base.json()["name"] == "models/gemini-2.5-flash"
    assert hidden.status_code == 404 and hidden.json()["error"]["status"] == "NOT_FOUND"
    assert anonymous.status_code == 401


async def test_vertex_generation_still_uses_the_vertex_pool(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    live = {"VERTEX_EXPRESS_BASE_URL": f"{upstream.url}/v1beta1/publishers/google"}
    async with gateway_client(fake_pool, upstream, ["ok-vertex-1"], **live) as gw:
        body = {"contents": [{"parts": [{"text": "hi"}]}]}
        reply = await gw.post(
            "/vertex-express/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=NATIVE
        )
        wrong = await gw.get("/vertex-express/v1beta/models/gemini-2.5-flash:generateContent", headers=NATIVE)
    assert reply.status_code == 200 and wrong.status_code == 404
    assert (
        upstream.fake.calls[-1]["path"]
        == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert [lease.pool for lease in pool.leases] == [kp.POOL_VERTEX]
