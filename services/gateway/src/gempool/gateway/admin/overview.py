"""The panel's first page: keys by state per pool, calls over three ranges, and warnings in place.

Warnings name what an operator must act on: a model every usable key of a pool is cooling for,
many keys retired in the last hour, and log records that are not reaching the database.
"""

import asyncio
import time
from collections import Counter, defaultdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.admin.deps import Rt, live_of, plain, rpc
from gempool.gateway.admin.keys import to_out
from gempool.gateway.admin.keyselect import KeyFilter
from gempool.gateway.admin.logs import utc_offset

router = APIRouter(tags=["admin: overview"])
RANGES = {"hour": (3600, 60), "day": (86400, 3600), "month": (30 * 86400, 86400)}
RETIRED_WARN = 3  # retirements within the hour that are worth a warning (or a tenth of the pool)


class Warning_(BaseModel):
    kind: str  # all_cooling, retired_recently, logs_behind
    message: str
    params: dict[str, Any]


class Overview(BaseModel):
    keys: dict[str, dict[str, int]]
    warnings: list[Warning_]
    stats: dict[str, Any]
    timezone: str
    now: float


async def all_keys(rt: Rt) -> list[kp.KeyInfo]:
    out: list[kp.KeyInfo] = []
    token = ""
    while True:
        reply = await rpc(rt.keypool.ListKeys(KeyFilter().request(token), timeout=30))
        out += reply.keys
        if not (token := reply.next_page_token):
            return out


def key_warnings(keys: list[kp.KeyInfo], now: float) -> list[Warning_]:
    """Models a whole pool is cooling for, and a burst of retirements."""
    usable: Counter[str] = Counter()
    cooling: dict[tuple[str, str], list[float]] = defaultdict(list)
    for info in keys:
        key = to_out(info)
        if key.state in ("active", "cooling"):
            usable[key.pool] += 1
            for c in key.cooldowns:
                if c.until > now:
                    cooling[(key.pool, c.model or "*")].append(c.until)
    out = [
        Warning_(
            kind="all_cooling",
            message=f"Every usable key of the {pool} pool is cooling for {model}.",
            params={"pool": pool, "model": model, "keys": len(untils), "until": min(untils)},
        )
        for (pool, model), untils in sorted(cooling.items())
        if len(untils) >= usable[pool]
    ]
    recent = [k for k in keys if k.state == kp.KEY_STATE_RETIRED and k.retired_at_unix > now - 3600]
    if len(recent) >= max(RETIRED_WARN, len(keys) // 10):
        message = f"{len(recent)} keys were retired in the last hour."
        out.append(Warning_(kind="retired_recently", message=message, params={"count": len(recent)}))
    return out


def log_warning(rt: Rt) -> list[Warning_]:
    down, waiting = rt.logs.down_for(), rt.logs.buffered()
    if not down:
        return []
    message = f"Logs have not reached the database for {int(down)} s; {waiting} records are waiting."
    return [Warning_(kind="logs_behind", message=message, params={"seconds": int(down), "records": waiting})]


async def series(rt: Rt, span: int, bucket: int, now: float, offset: int) -> dict[str, Any]:
    request = config_pb2.GetStatsRequest(
        since_unix=now - span, until_unix=now, bucket_seconds=bucket, tz_offset_seconds=offset, top=10
    )
    return plain(await rpc(rt.config.GetStats(request, timeout=60)))


@router.get("/overview", response_model=Overview, summary="Keys by state per pool, calls over time, warnings")
async def overview(rt: Rt) -> Overview:
    now, timezone = time.time(), live_of(rt).settings.TIMEZONE
    offset = utc_offset(timezone, now)
    keys, *ranges = await asyncio.gather(
        all_keys(rt), *(series(rt, span, bucket, now, offset) for span, bucket in RANGES.values())
    )
    counts: dict[str, dict[str, int]] = {}
    for info in keys:
        key = to_out(info)
        pool = counts.setdefault(key.pool, dict.fromkeys(("active", "cooling", "retired", "disabled"), 0))
        pool[key.state] += 1
    return Overview(
        keys=counts,
        warnings=key_warnings(keys, now) + log_warning(rt),
        stats=dict(zip(RANGES, ranges, strict=True)),
        timezone=timezone,
        now=now,
    )
