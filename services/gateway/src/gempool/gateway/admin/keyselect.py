"""Which keys an admin action is for: ids picked on screen, or every key a filter matches.

A filter is resolved here, over every page of the keypool's list, so a bulk action reaches all the
keys a search found, not only the page on screen.
"""

from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.admin.deps import Rt, rpc

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
PAGE = 1000


class KeyFilter(BaseModel):
    """The keys page's search: every field empty matches every key."""

    state: State | None = None
    pool: Kind | None = None
    q: str = Field(default="", description="Text in the visible part of the key, a tag, the reason")
    tag: str = ""

    def request(self, page_token: str = "") -> kp.ListKeysRequest:
        return kp.ListKeysRequest(
            page_size=PAGE,
            page_token=page_token,
            state=STATES[self.state] if self.state else kp.KEY_STATE_UNSPECIFIED,
            pool=POOLS[self.pool] if self.pool else kp.POOL_UNSPECIFIED,
            query=self.q.strip(),
            tag=self.tag.strip(),
        )


class Selection(BaseModel):
    key_ids: list[str] = Field(default_factory=list, description="The keys by key_id.")
    match: KeyFilter | None = Field(None, description="Or every key this filter matches (server-side).")


async def matching(rt: Rt, key_filter: KeyFilter) -> list[str]:
    """Every key_id the filter matches, page by page."""
    ids: list[str] = []
    token = ""
    while True:
        reply = await rpc(rt.keypool.ListKeys(key_filter.request(token), timeout=30))
        ids += [k.key_id for k in reply.keys]
        token = reply.next_page_token
        if not token:
            return ids


async def selected(rt: Rt, body: Selection, *, empty_ok: bool = False) -> list[str]:
    """The key_ids an action is for; 422 when nothing is chosen (unless ``empty_ok``)."""
    ids = list(body.key_ids)
    if body.match is not None:
        ids += [k for k in await matching(rt, body.match) if k not in set(ids)]
    if not ids and not empty_ok and body.match is None:
        raise HTTPException(422, [{"name": "key_ids", "message": "choose keys, or send a filter as match"}])
    return ids
