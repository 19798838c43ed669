"""ListKeys: pages of the pool with each key's live state."""

import bisect

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


async def list_keys(
    store: Store, records: dict[str, KeyRecord], sorted_ids: list[str], req: pb.ListKeysRequest
) -> pb.ListKeysResponse:
    """Keys in key_id order; ``page_token`` is the last key_id of the previous page.

    ``pool`` UNSPECIFIED and ``state`` UNSPECIFIED list every pool and state.
    """
    ids = [k for k in sorted_ids if not req.pool or records[k].pool == req.pool]
    if req.state:
        live = await store.live(ids)
        ids = [k for k in ids if key_state(records[k], live[k]) == req.state]
    size = min(req.page_size or DEFAULT_PAGE, MAX_PAGE)
    start = bisect.bisect_right(ids, req.page_token) if req.page_token else 0
    page = ids[start : start + size]
    live = await store.live(page)
    more = start + size < len(ids)
    return pb.ListKeysResponse(
        keys=[key_info(records[k], live[k]) for k in page],
        next_page_token=page[-1] if more and page else "",
        total=len(ids),
    )


async def count_states(store: Store, records: dict[str, KeyRecord]) -> dict[pb.KeyState.ValueType, int]:
    """Keys per state, for the keys gauge."""
    counts = dict.fromkeys(
        (pb.KEY_STATE_ACTIVE, pb.KEY_STATE_COOLING, pb.KEY_STATE_RETIRED, pb.KEY_STATE_DISABLED), 0
    )
    live = await store.live(list(records))
    for key_id, rec in records.items():
        counts[key_state(rec, live[key_id])] += 1
    return counts
