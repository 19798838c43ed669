"""Upstream keys: list with live state, add in bulk, delete, enable/disable, verify, reset.

Whole keys never leave: lists show ``AIza...x9Qk`` and the key_id (a fingerprint) to act on.
"""

from collections.abc import AsyncIterator
from typing import Literal

import grpc
import orjson
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.common.live import split_list
from gempool.gateway.admin.deps import Rt, rpc, unix_or_none

router = APIRouter(prefix="/keys", tags=["admin: keys"])

State = Literal["active", "cooling", "retired", "disabled"]
Kind = Literal["free", "paid", "vertex"]
STATES = {"active": kp.KEY_STATE_ACTIVE, "cooling": kp.KEY_STATE_COOLING, "retired": kp.KEY_STATE_RETIRED}
STATES["disabled"] = kp.KEY_STATE_DISABLED
POOLS = {"free": kp.POOL_UNSPECIFIED, "paid": kp.POOL_PAID, "vertex": kp.POOL_VERTEX}
KINDS = {
    "free": config_pb2.KEY_KIND_UNSPECIFIED,
    "paid": config_pb2.KEY_KIND_PAID,
    "vertex": config_pb2.KEY_KIND_VERTEX,
}


class Cooldown(BaseModel):
    model: str
    until: float
    reason: str


class KeyOut(BaseModel):
    key_id: str
    masked: str
    pool: str
    state: str
    reason: str
    consecutive_failures: int
    last_error: str
    cooldowns: list[Cooldown]
    tags: list[str]
    uses_last_minute: int
    uses_last_day: int
    retired_at: float | None


class KeyPage(BaseModel):
    keys: list[KeyOut]
    next_page_token: str | None
    total: int


class NewKeys(BaseModel):
    keys: list[str] = Field(default_factory=list, description="Keys as a JSON list.")
    text: str = Field("", description="Or as text: a JSON list, or keys separated by commas or new lines.")
    kind: Kind = "free"
    tags: list[str] = Field(default_factory=list)


class Added(BaseModel):
    received: int
    added: int
    existing: int


class KeyIds(BaseModel):
    key_ids: list[str] = Field(min_length=1)


class Changed(BaseModel):
    changed: int
    missing: list[str]


class Verify(BaseModel):
    key_ids: list[str] = Field(default_factory=list, description="Empty: every retired key.")
    model: str = Field("", description="Empty: TEST_MODEL.")
    concurrency: int = Field(0, ge=0, le=64)
    wait: bool = Field(False, description="Answer once, at the end, instead of streaming NDJSON progress.")


class Reset(BaseModel):
    key_ids: list[str] = Field(default_factory=list, description="Empty: every key.")


def to_out(info: kp.KeyInfo) -> KeyOut:
    return KeyOut(
        key_id=info.key_id,
        masked=info.masked,
        pool={v: k for k, v in POOLS.items()}.get(info.pool, "free"),
        state=kp.KeyState.Name(info.state).removeprefix("KEY_STATE_").lower(),
        reason=info.reason,
        consecutive_failures=info.consecutive_failures,
        last_error=info.last_error,
        cooldowns=[Cooldown(model=c.model, until=c.until_unix, reason=c.reason) for c in info.cooldowns],
        tags=list(info.tags),
        uses_last_minute=info.uses_last_minute,
        uses_last_day=info.uses_last_day,
        retired_at=unix_or_none(info.retired_at_unix),
    )


@router.get("", response_model=KeyPage, summary="Keys with their live state, paged")
async def list_keys(
    rt: Rt,
    state: State | None = None,
    pool: Kind | None = None,
    page_size: int = Query(100, ge=1, le=1000),
    page_token: str = "",
) -> KeyPage:
    request = kp.ListKeysRequest(
        page_size=page_size,
        page_token=page_token,
        state=STATES[state] if state else kp.KEY_STATE_UNSPECIFIED,
        pool=POOLS[pool] if pool else kp.POOL_UNSPECIFIED,
    )
    reply = await rpc(rt.keypool.ListKeys(request, timeout=30))
    return KeyPage(
        keys=[to_out(k) for k in reply.keys], next_page_token=reply.next_page_token or None, total=reply.total
    )


@router.post("", response_model=Added, summary="Add keys in bulk (thousands at once)")
async def add_keys(body: NewKeys, rt: Rt) -> Added:
    try:
        listed = split_list(body.text) if body.text.strip() else []
    except ValueError as exc:
        raise HTTPException(422, [{"name": "text", "message": str(exc)}]) from None
    keys = [k.strip() for k in [*body.keys, *listed] if isinstance(k, str) and k.strip()]
    if not keys:
        raise HTTPException(422, [{"name": "keys", "message": "no keys given"}])
    new = [config_pb2.NewKey(api_key=k, kind=KINDS[body.kind], tags=body.tags) for k in keys]
    reply = await rpc(rt.config.AddKeys(config_pb2.AddKeysRequest(keys=new), timeout=60))
    return Added(received=len(keys), added=reply.added, existing=reply.existing)


@router.post("/delete", summary="Delete keys")
async def delete_keys(body: KeyIds, rt: Rt) -> dict[str, int]:
    reply = await rpc(rt.config.RemoveKeys(config_pb2.RemoveKeysRequest(key_ids=body.key_ids), timeout=60))
    return {"removed": reply.removed}


@router.delete("/{key_id}", status_code=204, summary="Delete one key")
async def delete_key(key_id: str, rt: Rt) -> None:
    reply = await rpc(rt.config.RemoveKeys(config_pb2.RemoveKeysRequest(key_ids=[key_id]), timeout=10))
    if not reply.removed:
        raise HTTPException(404, f"No key {key_id}.")


async def set_status(rt: Rt, key_ids: list[str], status: int, reason: str) -> Changed:
    missing = []
    for key_id in key_ids:
        request = config_pb2.SetKeyStatusRequest(key_id=key_id, status=status, reason=reason)  # type: ignore[arg-type]
        if not (await rpc(rt.config.SetKeyStatus(request, timeout=10))).found:
            missing.append(key_id)
    return Changed(changed=len(key_ids) - len(missing), missing=missing)


@router.post("/enable", response_model=Changed, summary="Enable keys (also brings retired keys back)")
async def enable(body: KeyIds, rt: Rt) -> Changed:
    return await set_status(rt, body.key_ids, config_pb2.KEY_STATUS_ACTIVE, "enabled by an admin")


@router.post("/disable", response_model=Changed, summary="Disable keys (never leased until enabled)")
async def disable(body: KeyIds, rt: Rt) -> Changed:
    return await set_status(rt, body.key_ids, config_pb2.KEY_STATUS_DISABLED, "disabled by an admin")


@router.post("/verify", summary="Probe keys with a test call; NDJSON progress, or one answer with wait")
async def verify(body: Verify, rt: Rt) -> object:
    request = kp.VerifyKeysRequest(key_ids=body.key_ids, model=body.model, concurrency=body.concurrency)
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
        "ok": reply.ok,
        "error": reply.error,
        "done": reply.done,
        "total": reply.total,
    }


@router.post("/reset", summary="Clear failure counts and cooldowns (and restore retired keys)")
async def reset(body: Reset, rt: Rt) -> dict[str, int]:
    reply = await rpc(rt.keypool.ResetKeys(kp.ResetKeysRequest(key_ids=body.key_ids), timeout=60))
    return {"reset": reply.reset}
