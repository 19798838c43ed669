"""ListKeys: pages of the pool with each key's live state."""

import bisect
from collections.abc import Callable
from typing import Any

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import mask
from gempool.common.scrub import scrub

from .records import KeyRecord
from .store import KeyLive, Store

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def key_state(rec: KeyRecord, live: KeyLive) -> pb.KeyState.ValueType:
    if rec.status == config_pb2.KEY_STATUS_DISABLED:
        return pb.KEY_STATE_DISABLED
    if rec.status == config_pb2.KEY_STATUS_RETIRED or live.retired is not None:
        return pb.KEY_STATE_RETIRED
    return pb.KEY_STATE_COOLING if live.cooldowns else pb.KEY_STATE_ACTIVE


def key_info(rec: KeyRecord, live: KeyLive) -> pb.KeyInfo:
    """One key as the panel shows it; texts scrubbed again on the way out (a reason stored before
    reasons were scrubbed may still quote the key)."""
    state = key_state(rec, live)
    retired_at = live.retired.at if live.retired else rec.changed_at if state == pb.KEY_STATE_RETIRED else 0.0
    reason = live.retired.reason if live.retired else rec.reason
    return pb.KeyInfo(
        key_id=rec.key_id,
        masked=mask(rec.api_key),
        pool=rec.pool,
        state=state,
        reason=scrub(reason, rec.api_key),
        consecutive_failures=live.failures,
        last_error=scrub(live.last_error, rec.api_key)[:200],
        cooldowns=[
            pb.Cooldown(model=c.model, until_unix=c.until, reason=scrub(c.reason, rec.api_key))
            for c in live.cooldowns
        ],
        tags=list(rec.tags),
        uses_last_minute=live.uses_last_minute,
        uses_last_day=live.uses_last_day,
        retired_at_unix=retired_at,
    )


SORTS: dict[str, Callable[[KeyRecord, KeyLive], Any]] = {
    "masked": lambda rec, _: mask(rec.api_key).lower(),
    "state": lambda rec, live: key_state(rec, live),
    "failures": lambda _, live: live.failures,
    "uses_minute": lambda _, live: live.uses_last_minute,
    "uses_day": lambda _, live: live.uses_last_day,
    "retired_at": lambda rec, live: live.retired.at if live.retired else rec.changed_at,
}


def matches(rec: KeyRecord, query: str, tag: str) -> bool:
    """The search box: text in the visible part of the key, a tag, the reason or the key_id."""
    if tag and tag not in rec.tags:
        return False
    if not query:
        return True
    text = "\n".join((mask(rec.api_key), rec.reason, rec.key_id, *rec.tags)).lower()
    return query.lower() in text


async def list_keys(
    store: Store, records: dict[str, KeyRecord], sorted_ids: list[str], req: pb.ListKeysRequest
) -> pb.ListKeysResponse:
    """Keys in key_id order (``page_token``: the last key_id of the previous page), or in ``sort``
    order (``page_token``: an offset). Empty filters (pool, state, query, tag) match every key."""
    ids = [k for k in sorted_ids if not req.pool or records[k].pool == req.pool]
    if req.query or req.tag:
        ids = [k for k in ids if matches(records[k], req.query.strip(), req.tag.strip())]
    sort = req.sort.removeprefix("-")
    if req.state or sort in SORTS:
        live = await store.live(ids)
        if req.state:
            ids = [k for k in ids if key_state(records[k], live[k]) == req.state]
        if sort in SORTS:
            order = SORTS[sort]
            ids.sort(key=lambda k: order(records[k], live[k]), reverse=req.sort.startswith("-"))
    size = min(req.page_size or DEFAULT_PAGE, MAX_PAGE)
    start = page_start(ids, req.page_token, sorted_by_id=sort not in SORTS)
    page = ids[start : start + size]
    live = await store.live(page)
    more = start + size < len(ids)
    after = (page[-1] if sort not in SORTS else str(start + size)) if more and page else ""
    return pb.ListKeysResponse(
        keys=[key_info(records[k], live[k]) for k in page], next_page_token=after, total=len(ids)
    )


def page_start(ids: list[str], token: str, *, sorted_by_id: bool) -> int:
    if not token:
        return 0
    if sorted_by_id:
        return bisect.bisect_right(ids, token)
    return int(token) if token.isdigit() else 0


async def count_states(store: Store, records: dict[str, KeyRecord]) -> dict[pb.KeyState.ValueType, int]:
    """Keys per state, for the keys gauge."""
    counts = dict.fromkeys(
        (pb.KEY_STATE_ACTIVE, pb.KEY_STATE_COOLING, pb.KEY_STATE_RETIRED, pb.KEY_STATE_DISABLED), 0
    )
    live = await store.live(list(records))
    for key_id, rec in records.items():
        counts[key_state(rec, live[key_id])] += 1
    return counts
