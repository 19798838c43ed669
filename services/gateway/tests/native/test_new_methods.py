"""Methods Google adds later pass through as sent: the gateway needs no list of them."""

from gempool.fakegemini.server import Running

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

BODY = b'{"someField": {"nested": [1, 2, 3]}, "other": "x"}'


async def test_an_unknown_method_reaches_the_upstream_as_sent(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        upstream.fake.seen.clear()
        reply = await gw.post(
            "/v1beta/models/gemini-2.5-flash:someNewMethod",
            params={"key": TOKEN, "alt": "json"},
            content=BODY,
            headers={"content-type": "application/json"},
        )
    [seen] = upstream.fake.seen
    assert (seen.method, seen.path, seen.query) == (
        "POST",
        "/v1beta/models/gemini-2.5-flash:someNewMethod",
        "alt=json",
    )
    [call] = upstream.fake.calls
    assert call["method"] == "someNewMethod" and call["body"] == {
        "someField": {"nested": [1, 2, 3]},
        "other": "x",
    }
    # The fake does not know the method either: its own answer comes back as Google gave it.
    assert reply.status_code == 400 and reply.json()["error"]["message"] == "Unknown method someNewMethod."
