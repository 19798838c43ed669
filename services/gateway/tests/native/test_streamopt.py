"""STREAM_OPTIMIZER: long text events cut into paced pieces; everything else untouched."""

import time
from collections.abc import AsyncIterator

import orjson
from starlette.responses import StreamingResponse

from gempool.common.live import LiveSettings
from gempool.gateway.native.streamopt import StreamOptimizer, delay_for, pieces, split_event
from gempool.gateway.pipeline.adapter import PASSTHROUGH

FAST = LiveSettings(STREAM_MIN_DELAY=0.001, STREAM_MAX_DELAY=0.004)


def event(*parts: dict[str, object], final: bool = True) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"parts": list(parts), "role": "model"}, "index": 0}
    out: dict[str, object] = {"candidates": [candidate], "modelVersion": "m", "responseId": "r"}
    if final:
        candidate["finishReason"] = "STOP"
        out["usageMetadata"] = {"totalTokenCount": 9}
    return out


def test_pacing_follows_gemini_balance() -> None:
    s = LiveSettings()
    assert pieces("abc", s) == ["a", "b", "c"]
    long = "x" * 52
    assert pieces(long, s) == ["xxxxx"] * 10 + ["xx"]
    assert delay_for(3, s) == s.STREAM_MAX_DELAY and delay_for(80, s) == s.STREAM_MIN_DELAY
    assert s.STREAM_MIN_DELAY < delay_for(25, s) < s.STREAM_MAX_DELAY


def test_split_keeps_ids_everywhere_and_the_rest_on_the_last_piece() -> None:
    split = split_event(event({"text": "hey"}), LiveSettings())
    assert split is not None
    events, length = split
    assert length == 3 and [e["candidates"][0]["content"]["parts"] for e in events] == [
        [{"text": "h"}],
        [{"text": "e"}],
        [{"text": "y"}],
    ]
    assert all(e["responseId"] == "r" for e in events)
    assert "usageMetadata" not in events[0] and "finishReason" not in events[0]["candidates"][0]
    assert events[-1]["usageMetadata"] == {"totalTokenCount": 9}
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_thoughts_calls_and_media_are_never_cut() -> None:
    s = LiveSettings()
    assert split_event(event({"text": "hmm", "thought": True}), s) is None
    assert split_event(event({"functionCall": {"name": "f"}}), s) is None
    assert split_event(event({"text": "x"}), s) is None, "nothing to cut"


async def test_stream_is_paced_and_whole() -> None:
    upstream = [event({"text": "Hello there"}, final=False), event({"text": "!"}), {"usageMetadata": {}}]
    raw = b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in upstream)

    async def chunks() -> AsyncIterator[bytes]:
        yield raw[:30]
        yield raw[30:]

    response = StreamOptimizer(PASSTHROUGH, FAST).stream(chunks(), "text/event-stream")
    assert isinstance(response, StreamingResponse)
    started = time.monotonic()
    out = b"".join([c async for c in response.body_iterator])  # type: ignore[misc]
    assert time.monotonic() - started >= 10 * 0.001
    events = [orjson.loads(e.removeprefix(b"data: ")) for e in out.split(b"\r\n\r\n") if e]
    texts = [p["text"] for e in events for c in e.get("candidates", []) for p in c["content"]["parts"]]
    assert len(events) == 13 and "".join(texts) == "Hello there!"
    assert events[-1] == {"usageMetadata": {}}
