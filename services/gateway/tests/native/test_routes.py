"""Native routes: which bodies get parsed and rewritten on their way upstream."""

import orjson

from gempool.common.live import LiveSettings
from gempool.gateway.native.routes import conveniences
from gempool.gateway.runtime import Live

RAW = b'{"contents": [ {"parts": [{"text": "hi"}]} ], "someNewField": 1}'


def live(**kw: object) -> Live:
    return Live.build(LiveSettings(**kw))  # type: ignore[arg-type]


def test_plain_request_goes_upstream_as_the_same_bytes() -> None:
    name, body = conveniences(live(), "gemini-2.5-flash", "generateContent", RAW)
    assert name == "gemini-2.5-flash" and body is RAW


def test_derived_name_is_rewritten_with_its_body() -> None:
    name, body = conveniences(live(), "gemini-2.5-flash-search", "streamGenerateContent", RAW)
    assert name == "gemini-2.5-flash"
    sent = orjson.loads(body)
    assert sent["tools"] == [{"googleSearch": {}}] and sent["someNewField"] == 1


def test_other_methods_only_lose_the_suffix() -> None:
    name, body = conveniences(live(), "gemini-2.5-flash-search", "countTokens", RAW)
    assert name == "gemini-2.5-flash" and body is RAW


def test_unparsable_body_is_left_for_the_upstream_to_refuse() -> None:
    name, body = conveniences(live(), "gemini-2.5-flash-search", "generateContent", b"{nope")
    assert body == b"{nope"
