"""FILES_USER_ISOLATION_ENABLED on prompts: another team's file gets 403 in the caller's dialect,
and the upstream never sees the request."""

import httpx
import orjson
import pytest

from gempool.fakegemini.server import Running
from gempool.gateway.native.files.store import _unescaped

from ...conftest import FakeKeyPool
from ...gateway_app import gateway_client

OWNER, OTHER = "team-a-token", "team-b-token"
KEYS = ["ok-files-1", "ok-files-2"]
BOUNDARY = "gempool-boundary"
UPLOAD = (
    f"--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
    '{"file": {"displayName": "plans"}}\r\n'
    f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nsecret plans\r\n--{BOUNDARY}--\r\n"
).encode()


async def upload(gw: httpx.AsyncClient, token: str) -> dict[str, str]:
    reply = await gw.post(
        "/upload/v1beta/files",
        params={"key": token},
        headers={
            "x-goog-upload-protocol": "multipart",
            "content-type": f"multipart/related; boundary={BOUNDARY}",
        },
        content=UPLOAD,
    )
    assert reply.status_code == 200, reply.text
    file: dict[str, str] = reply.json()["file"]
    return file


def prompt(uri: str, field: str = "fileUri") -> bytes:
    part = {"fileData": {"mimeType": "text/plain", field: uri}}
    return orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "summarise"}, part]}]})


def chat(file_id: str, stream: bool = False) -> dict[str, object]:
    content = [{"type": "text", "text": "summarise"}, {"type": "file", "file": {"file_id": file_id}}]
    return {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": content}], "stream": stream}


def generated(upstream: Running) -> list[str]:
    return [c["method"] for c in upstream.fake.calls if not c["method"].startswith("files.")]


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "/v1beta/models/gemini-2.5-flash:countTokens",
        "/gemini/v1/models/gemini-2.5-flash:generateContent",
    ],
)
async def test_another_teams_file_is_refused_on_native_routes(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, path: str
) -> None:
    async with gateway_client(fake_pool, upstream, KEYS, ALLOWED_TOKENS=[OWNER, OTHER]) as gw:
        file = await upload(gw, OWNER)
        for body in (prompt(file["uri"]), prompt(file["name"], "file_uri")):
            refused = await gw.post(path, headers={"x-goog-api-key": OTHER}, content=body)
            assert refused.status_code == 403
            error = refused.json()["error"]
            assert (
                error["status"] == "PERMISSION_DENIED"
                and file["name"].removeprefix("files/") in error["message"]
            )
        escaped = prompt(file["uri"]).replace(b"files/", b"\\u0066iles\\/")
        assert (await gw.post(path, headers={"x-goog-api-key": OTHER}, content=escaped)).status_code == 403
        assert generated(upstream) == [], "a refused prompt never reaches the upstream"
        mine = await gw.post(path, headers={"x-goog-api-key": OWNER}, content=prompt(file["uri"]))
        assert mine.status_code == 200, mine.text


@pytest.mark.parametrize("stream", [False, True])
async def test_another_teams_file_is_refused_on_openai_chat(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, stream: bool
) -> None:
    async with gateway_client(fake_pool, upstream, KEYS, ALLOWED_TOKENS=[OWNER, OTHER]) as gw:
        file = await upload(gw, OWNER)
        for named in (file["name"], file["uri"]):
            refused = await gw.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {OTHER}"},
                json=chat(named, stream),
            )
            assert refused.status_code == 403
            error = refused.json()["error"]
            assert (
                error["type"] == "permission_error"
                and file["name"].removeprefix("files/") in error["message"]
            )
        assert generated(upstream) == []
        mine = await gw.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {OWNER}"},
            json=chat(file["uri"], stream),
        )
        assert mine.status_code == 200, mine.text


async def test_a_file_gempool_does_not_know_is_refused_too(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    """Nobody's record: gempool cannot tell whose it is, and only its holder's key could read it."""
    async with gateway_client(fake_pool, upstream, KEYS, ALLOWED_TOKENS=[OWNER, OTHER]) as gw:
        body = prompt(f"{upstream.url}/v1beta/files/notrecorded1")
        refused = await gw.post(
            "/v1beta/models/gemini-2.5-flash:generateContent", headers={"x-goog-api-key": OTHER}, content=body
        )
        assert refused.status_code == 403 and generated(upstream) == []
        text_only = orjson.dumps({"contents": [{"parts": [{"text": "what are files/abc and files/x?"}]}]})
        answered = await gw.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            headers={"x-goog-api-key": OTHER},
            content=text_only,
        )
        assert answered.status_code == 200, "a file named in plain text is only text"


async def test_without_isolation_a_shared_file_is_served(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    live = {"ALLOWED_TOKENS": [OWNER, OTHER], "FILES_USER_ISOLATION_ENABLED": False}
    async with gateway_client(fake_pool, upstream, KEYS, **live) as gw:
        file = await upload(gw, OWNER)
        shared = await gw.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            headers={"x-goog-api-key": OTHER},
            content=prompt(file["uri"]),
        )
        assert shared.status_code == 200, shared.text


def test_only_escapes_that_could_spell_a_file_make_the_body_parsed() -> None:
    plain = b'{"contents": [{"parts": [{"text": "\\u4e2d\\u6587 \\"quoted\\"\\n"}]}]}'
    assert _unescaped(plain) is plain, "ordinary escapes cost nothing"
    for spelled in (b"\\u0066iles/abc", b"fil\\u0065s/abc", b"files\\/abc", b"files\\u002Fabc"):
        assert _unescaped(b'{"fileUri": "' + spelled + b'"}') == b'{"fileUri":"files/abc"}'
