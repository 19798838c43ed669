"""SHOW_SEARCH_LINK through the gateway: every way to ask, against the fake's real grounding."""

from typing import Any

import httpx
import orjson
import pytest

from gempool.fakegemini.server import Running

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

NATIVE = {"x-goog-api-key": TOKEN}
BEARER = {"authorization": f"Bearer {TOKEN}"}
PROMPT: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "news?"}]}]}
SOURCES = "\n\nSources:\n1. [example.com](https://example.com/a)\n2. [example.org](https://example.org/b)"
ROOTS = {"native": "/v1beta/models", "vertex": "/vertex-express/v1beta/models"}


def answers(response: httpx.Response, mode: str) -> list[dict[str, Any]]:
    """The answer objects of a reply, without the ids the fake makes up for each."""
    assert response.status_code == 200, response.text
    if mode == "sse":
        raw = [e for e in response.content.split(b"\r\n\r\n") if e]
        found = [orjson.loads(e.removeprefix(b"data: ")) for e in raw]
    else:
        loaded = orjson.loads(response.content)
        found = loaded if mode == "array" else [loaded]
    for answer in found:
        answer.pop("responseId", None)
    return list(found)


async def ask(gw: httpx.AsyncClient, root: str, mode: str) -> list[dict[str, Any]]:
    method = "generateContent" if mode == "whole" else "streamGenerateContent"
    query = "?alt=sse" if mode == "sse" else ""
    url = f"{root}/gemini-2.5-flash-search:{method}{query}"
    return answers(await gw.post(url, json=PROMPT, headers=NATIVE), mode)


@pytest.mark.parametrize("mode", ["whole", "array", "sse"])
@pytest.mark.parametrize("where", ["native", "vertex"])
async def test_sources_are_one_more_part_and_nothing_else_changes(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, mode: str, where: str
) -> None:
    live = {"VERTEX_EXPRESS_BASE_URL": f"{upstream.url}/v1beta1/publishers/google"}
    async with gateway_client(fake_pool, upstream, ["ok-1"], SHOW_SEARCH_LINK=False, **live) as gw:
        google = await ask(gw, ROOTS[where], mode)  # the answer as the upstream sent it
    async with gateway_client(fake_pool, upstream, ["ok-1"], **live) as gw:
        linked = await ask(gw, ROOTS[where], mode)
    call = upstream.fake.calls[-1]
    assert call["model"] == "gemini-2.5-flash" and call["body"]["tools"] == [{"googleSearch": {}}]
    assert len(linked) == len(google) and "groundingMetadata" in google[-1]["candidates"][0]
    parts = linked[-1]["candidates"][0]["content"]["parts"]
    assert parts[-1] == {"text": SOURCES}
    del parts[-1]
    assert linked == google


async def test_plain_models_get_no_sources(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        body: dict[str, Any] = PROMPT | {"tools": [{"googleSearch": {}}]}
        response = await gw.post("/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=NATIVE)
    (answer,) = answers(response, "whole")
    assert "groundingMetadata" in answer["candidates"][0]
    assert "Sources" not in orjson.dumps(answer["candidates"][0]["content"]).decode()


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_answers_end_with_the_sources(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, stream: bool
) -> None:
    chat = {"model": "gemini-2.5-flash-search", "messages": [{"role": "user", "content": "news?"}]}
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        response = await gw.post("/v1/chat/completions", json=chat | {"stream": stream}, headers=BEARER)
    assert response.status_code == 200, response.text
    if stream:
        events = [orjson.loads(e[6:]) for e in response.content.split(b"\n\n") if e.startswith(b"data: {")]
        content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    else:
        content = response.json()["choices"][0]["message"]["content"]
    assert content.startswith("Echo: news?")
    assert content.endswith(
        "**Sources**\n\n1. [example.com](https://example.com/a)\n2. [example.org](https://example.org/b)\n"
    )
    assert upstream.fake.calls[-1]["body"]["tools"] == [{"googleSearch": {}}]
