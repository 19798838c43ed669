"""The attempt loop: which key, when to retry, what the client sees."""

import grpc
import orjson
from starlette.responses import StreamingResponse

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.api.keypool.v1.keypool_pb2_grpc import KeyPoolServiceStub
from gempool.common.devstack import free_port
from gempool.common.keys import key_id
from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.access.tokens import CALLER, Caller
from gempool.gateway.errors import Dialect
from gempool.gateway.pipeline.poolclient import PoolClient
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool

BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})


def generate(stream: bool = False, model: str = "gemini-2.5-flash") -> Call:
    method = "streamGenerateContent" if stream else "generateContent"
    return Call(
        Dialect.GEMINI,
        "test",
        model,
        f"/v1beta/models/{model}:{method}",
        body=BODY,
        query=[("alt", "sse")] if stream else [],
        stream=stream,
        sse=stream,
        check_empty=True,
        headers={"content-type": "application/json"},
    )


async def body_of(response: object) -> bytes:
    if isinstance(response, StreamingResponse):
        return b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[misc]
    return response.body  # type: ignore[attr-defined,no-any-return]


async def test_failed_keys_are_retried_invisibly(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["invalid-1", "overload-2", "ok-3"]
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 200
    assert orjson.loads(await body_of(response))["candidates"][0]["content"]["parts"][0]["text"].startswith(
        "Echo: hi"
    )
    assert [c["key"] for c in upstream.fake.calls] == ["invalid-1", "overload-2", "ok-3"]
    assert [r.http_status for r in pool.reports[:2]] == [400, 503]
    assert b"API_KEY_INVALID" in pool.reports[0].error_body


async def test_client_error_is_passed_back_without_retry(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1", "ok-2"]
    response = await forward(runtime, runtime.live, generate(model="gemini-9-imaginary"))  # type: ignore[arg-type]
    assert response.status_code == 404
    assert orjson.loads(await body_of(response))["error"]["status"] == "NOT_FOUND"
    assert len(upstream.fake.calls) == 1


async def test_retries_stop_at_max_retries(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = [f"overload-{i}" for i in range(10)]
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 503
    assert len(upstream.fake.calls) == 4  # the first attempt and MAX_RETRIES=3 more
    assert orjson.loads(await body_of(response))["error"]["status"] == "UNAVAILABLE"


async def test_cooling_pool_answers_429_with_retry_after(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys, pool.exhausted_after = [], 12.2
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 429
    assert response.headers["retry-after"] == "13"
    assert orjson.loads(await body_of(response))["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert not upstream.fake.calls


async def test_an_unreachable_upstream_is_a_502_not_a_429_from_cooling_keys(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]
) -> None:
    pool, _ = fake_pool
    pool.keys, pool.exhausted_after = ["ok-1", "ok-2"], 2.0  # the other keys of the pool cool
    runtime.live = Live.build(LiveSettings(BASE_URL=f"http://127.0.0.1:{free_port()}/v1beta", MAX_RETRIES=3))
    response = await forward(runtime, runtime.live, generate())
    assert response.status_code == 502
    assert orjson.loads(await body_of(response))["error"]["status"] == "UNAVAILABLE"
    assert [r.transport for r in pool.reports] == [kp.TRANSPORT_CONNECT_ERROR] * 2


async def test_empty_answer_is_retried_on_another_key(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["empty-1", "ok-2"]
    for stream in (False, True):
        upstream.fake.calls.clear()
        response = await forward(runtime, runtime.live, generate(stream=stream))  # type: ignore[arg-type]
        assert response.status_code == 200
        assert b"Echo: hi" in await body_of(response)
        assert [c["key"] for c in upstream.fake.calls] == ["empty-1", "ok-2"]


async def test_stream_relays_every_event_and_reports_success(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    response = await forward(runtime, runtime.live, generate(stream=True))  # type: ignore[arg-type]
    raw = await body_of(response)
    assert raw.count(b"\r\n\r\n") == 3 and raw.endswith(b"\r\n\r\n")
    await runtime.reporter.flush()
    assert [(r.key_id, r.http_status) for r in pool.reports] == [(key_id("ok-1"), 200)]


async def test_keypool_down_is_a_clear_503(runtime: Runtime) -> None:
    await runtime.pool.close()
    runtime.pool = PoolClient(KeyPoolServiceStub(grpc.aio.insecure_channel("127.0.0.1:1")))
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 503
    assert b"key pool is unavailable" in await body_of(response)


async def test_leases_exclude_keys_already_tried(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]
) -> None:
    pool, _ = fake_pool
    pool.keys = ["overload-1", "ok-2"]
    await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert [list(lease.exclude_key_ids) for lease in pool.leases] == [[], [key_id("overload-1")]]
    assert pool.leases[0].pool == kp.POOL_UNSPECIFIED


async def test_an_older_keypool_without_sessions_still_serves(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys, pool.sessions = ["overload-1", "ok-2"], False
    response = await forward(runtime, runtime.live, generate())  # type: ignore[arg-type]
    assert response.status_code == 200
    assert [c["key"] for c in upstream.fake.calls] == ["overload-1", "ok-2"]
    assert len(pool.leases) == 2 and [r.http_status for r in pool.reports] == [503]


async def test_models_bound_to_a_key_tag_lease_only_such_keys(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    settings = runtime.live.settings.model_copy(  # type: ignore[union-attr]
        update={"MODEL_KEY_TAGS": {"gemini-2.5-pro*": "paid"}}
    )
    runtime.live = Live.build(LiveSettings.model_validate(settings.model_dump()))
    await forward(runtime, runtime.live, generate(model="gemini-2.5-pro"))
    await forward(runtime, runtime.live, generate(model="gemini-2.5-flash"))
    assert [lease.tag for lease in pool.leases] == ["paid", ""]


async def test_a_token_bound_to_a_key_tag_leases_only_such_keys(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    settings = runtime.live.settings.model_copy(  # type: ignore[union-attr]
        update={"MODEL_KEY_TAGS": {"gemini-2.5-pro*": "paid"}}
    )
    runtime.live = Live.build(LiveSettings.model_validate(settings.model_dump()))
    token = CALLER.set(Caller("team-x", "token:7", key_tag="team-x-keys"))
    try:
        await forward(runtime, runtime.live, generate(model="gemini-2.5-flash"))
        await forward(runtime, runtime.live, generate(model="gemini-2.5-pro"))
    finally:
        CALLER.reset(token)
    assert [lease.tag for lease in pool.leases] == ["team-x-keys", "paid"], "a model's binding comes first"
