"""Upstream keys: list with live state (searched, sorted), add in bulk, delete, enable/disable, tag.

Whole keys never leave: lists show ``AIza...x9Qk`` and the key_id (a fingerprint) to act on. Every
write answers the config ``keys_revision`` that holds it; a list asked with ``min_revision`` waits
(briefly) until the keypool has it, so the panel's next read shows the action's result.
"""

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.common.live import split_list
from gempool.gateway.admin.deps import Rt, rpc, unix_or_none
from gempool.gateway.admin.keyselect import KINDS, POOLS, STATES, Kind, Selection, State, selected

router = APIRouter(prefix="/keys", tags=["admin: keys"])


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
    keys_revision: int = Field(0, description="The min_revision this list was asked at.")


class NewKeys(BaseModel):
    keys: list[str] = Field(default_factory=list, description="Keys as a JSON list.")
    text: str = Field("", description="Or as text: a JSON list, or keys separated by commas or new lines.")
    kind: Kind = "free"
    tags: list[str] = Field(default_factory=list)


class Added(BaseModel):
    received: int
    added: int
    existing: int
    keys_revision: int = Field(description="Pass as min_revision to list keys with this change.")


class Changed(BaseModel):
    changed: int
    missing: list[str]
    keys_revision: int = Field(description="Pass as min_revision to list keys with this change.")


class Tagging(Selection):
    add: list[str] = Field(default_factory=list, description="Tags to add.")
    remove: list[str] = Field(default_factory=list, description="Tags to remove.")


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


@router.get("", response_model=KeyPage, summary="Keys with their live state: searched, sorted, paged")
async def list_keys(
    rt: Rt,
    state: State | None = None,
    pool: Kind | None = None,
    q: str = Query("", description="Text in the key's visible part (AIza...x9Qk), a tag, the reason"),
    tag: str = Query("", description="Only keys carrying this tag"),
    sort: str = Query(
        "", description="masked, state, failures, uses_minute, uses_day or retired_at; -: reversed"
    ),
    page_size: int = Query(100, ge=1, le=1000),
    page_token: str = "",
    min_revision: int = Query(0, ge=0, description="A keys_revision a write answered: wait for it"),
) -> KeyPage:
    request = kp.ListKeysRequest(
        page_size=page_size,
        page_token=page_token,
        state=STATES[state] if state else kp.KEY_STATE_UNSPECIFIED,
        pool=POOLS[pool] if pool else kp.POOL_UNSPECIFIED,
        query=q.strip(),
        tag=tag.strip(),
        sort=sort,
        min_keys_revision=min_revision,
    )
    reply = await rpc(rt.keypool.ListKeys(request, timeout=30))
    return KeyPage(
        keys=[to_out(k) for k in reply.keys],
        next_page_token=reply.next_page_token or None,
        total=reply.total,
        keys_revision=min_revision,
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
    return Added(
        received=len(keys), added=reply.added, existing=reply.existing, keys_revision=reply.keys_revision
    )


@router.post("/delete", summary="Delete the keys chosen (by id, or every key a filter matches)")
async def delete_keys(body: Selection, rt: Rt) -> dict[str, int]:
    ids = await selected(rt, body)
    reply = await rpc(rt.config.RemoveKeys(config_pb2.RemoveKeysRequest(key_ids=ids), timeout=60))
    return {"removed": reply.removed, "keys_revision": reply.keys_revision}


@router.delete("/{key_id}", status_code=204, summary="Delete one key")
async def delete_key(key_id: str, rt: Rt) -> None:
    reply = await rpc(rt.config.RemoveKeys(config_pb2.RemoveKeysRequest(key_ids=[key_id]), timeout=10))
    if not reply.removed:
        raise HTTPException(404, f"No key {key_id}.")


async def set_status(rt: Rt, body: Selection, status: int, reason: str) -> Changed:
    """One call for all the keys chosen (thousands when a filter chose them): one revision."""
    ids = await selected(rt, body)
    request = config_pb2.SetKeysStatusRequest(key_ids=ids, status=status, reason=reason)  # type: ignore[arg-type]
    reply = await rpc(rt.config.SetKeysStatus(request, timeout=60))
    missing = list(reply.missing)
    return Changed(changed=len(ids) - len(missing), missing=missing, keys_revision=reply.keys_revision)


@router.post("/enable", response_model=Changed, summary="Enable keys (also brings retired keys back)")
async def enable(body: Selection, rt: Rt) -> Changed:
    return await set_status(rt, body, config_pb2.KEY_STATUS_ACTIVE, "enabled by an admin")


@router.post("/disable", response_model=Changed, summary="Disable keys (never leased until enabled)")
async def disable(body: Selection, rt: Rt) -> Changed:
    return await set_status(rt, body, config_pb2.KEY_STATUS_DISABLED, "disabled by an admin")


@router.post("/tag", response_model=Changed, summary="Add and remove tags (a token's key_tag picks keys)")
async def tag_keys(body: Tagging, rt: Rt) -> Changed:
    if not [t for t in [*body.add, *body.remove] if t.strip()]:
        raise HTTPException(422, [{"name": "add", "message": "give tags to add or remove"}])
    ids = await selected(rt, body)
    request = config_pb2.TagKeysRequest(key_ids=ids, add=body.add, remove=body.remove)
    reply = await rpc(rt.config.TagKeys(request, timeout=60))
    return Changed(changed=reply.changed, missing=[], keys_revision=reply.keys_revision)
