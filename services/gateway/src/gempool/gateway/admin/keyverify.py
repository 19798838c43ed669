"""Verify keys with a test call (each result streamed as it arrives) and reset their failures.

A key whose answer condemns it (invalid, leaked, suspended) is retired by the keypool with that
reason; each progress line says so, with the key as lists show it.
"""

from collections.abc import AsyncIterator

import grpc
import orjson
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import Field

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.admin.deps import Rt, rpc
from gempool.gateway.admin.keyselect import Selection, selected

router = APIRouter(prefix="/keys", tags=["admin: keys"])


class Verify(Selection):
    model: str = Field("", description="Empty: TEST_MODEL.")
    concurrency: int = Field(0, ge=0, le=64)
    wait: bool = Field(False, description="Answer once, at the end, instead of streaming NDJSON progress.")


@router.post("/verify", summary="Probe keys (none chosen: every retired key); NDJSON progress, or wait")
async def verify(body: Verify, rt: Rt) -> object:
    ids = await selected(rt, body, empty_ok=True)
    if body.match is not None and not ids:
        return {"total": 0, "ok": 0, "failed": []}
    request = kp.VerifyKeysRequest(key_ids=ids, model=body.model, concurrency=body.concurrency)
    if body.wait:
        results = await rpc(collect(stream_verify(rt, request)))
        failed = [r for r in results if not r["ok"]]
        return {"total": len(results), "ok": len(results) - len(failed), "failed": failed}

    async def lines() -> AsyncIterator[bytes]:
        try:
            async for reply in stream_verify(rt, request):
                yield orjson.dumps(progress(reply)) + b"\n"
        except grpc.aio.AioRpcError as exc:
            yield orjson.dumps({"error": f"verification stopped: {exc.code().name}"}) + b"\n"

    return StreamingResponse(
        lines(), media_type="application/x-ndjson", headers={"cache-control": "no-store"}
    )


async def stream_verify(rt: Rt, request: kp.VerifyKeysRequest) -> AsyncIterator[kp.VerifyKeysResponse]:
    call = rt.keypool.VerifyKeys(request, timeout=600)
    try:
        async for reply in call:
            yield reply
    finally:
        call.cancel()


async def collect(replies: AsyncIterator[kp.VerifyKeysResponse]) -> list[dict[str, object]]:
    return [progress(r) async for r in replies]


def progress(reply: kp.VerifyKeysResponse) -> dict[str, object]:
    return {
        "key_id": reply.key_id,
        "masked": reply.masked,
        "ok": reply.ok,
        "error": reply.error,
        "retired": reply.retired,
        "done": reply.done,
        "total": reply.total,
    }


@router.post("/reset", summary="Clear failure counts and cooldowns (and restore retired keys)")
async def reset(body: Selection, rt: Rt) -> dict[str, int]:
    """No keys chosen and no filter: every key."""
    ids = await selected(rt, body, empty_ok=True)
    if body.match is not None and not ids:
        return {"reset": 0}
    reply = await rpc(rt.keypool.ResetKeys(kp.ResetKeysRequest(key_ids=ids), timeout=60))
    return {"reset": reply.reset}
