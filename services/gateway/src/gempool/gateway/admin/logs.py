"""Request and error logs (paged, filtered, detail, delete) and statistics."""

import time
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.gateway.admin.deps import Rt, live_of, plain, rpc

router = APIRouter(tags=["admin: logs and stats"])

Kind = Literal["requests", "errors"]
KINDS = {"requests": config_pb2.LOG_KIND_REQUEST, "errors": config_pb2.LOG_KIND_ERROR}
BUCKETS = {"minute": 60, "hour": 3600, "day": 86400}


class Filter(BaseModel):
    since: float | None = Field(None, description="Unix time, inclusive")
    until: float | None = Field(None, description="Unix time, exclusive")
    model: str = Field("", description="Model name or its beginning (gemini-2.5 finds gemini-2.5-pro)")
    model_exact: bool = Field(False, description="The model must match whole")
    token: str = Field("", description="Token name")
    key: str = Field("", description="Masked key, as listed")
    key_id: str = Field("", description="The key's id (keys alike masked stay apart)")
    status: int = Field(0, description="HTTP status; 0: any")
    failed: bool = Field(False, description="Only answers other than 200")
    error_code: str = Field("", description="Google's error status (error logs)")
    request_id: str = ""

    def message(self, record_id: int = 0) -> config_pb2.LogFilter:
        return config_pb2.LogFilter(
            since_unix=self.since or 0,
            until_unix=self.until or 0,
            model=self.model,
            model_exact=self.model_exact,
            token_name=self.token,
            key_masked=self.key,
            key_id=self.key_id,
            status=self.status,
            failed_only=self.failed,
            error_code=self.error_code,
            request_id=self.request_id,
            id=record_id,
        )


Filtered = Annotated[Filter, Depends()]


class Page(BaseModel):
    entries: list[dict[str, object]]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page.")


def entry(item: config_pb2.RequestLogEntry | config_pb2.ErrorLogEntry) -> dict[str, object]:
    fields = plain(item.log)
    fields["at"] = fields.pop("at_unix")
    return {"id": item.id, **fields}


async def page(rt: Rt, kind: Kind, f: config_pb2.LogFilter, size: int, before: int, body: bool) -> Page:
    reply: config_pb2.ListRequestLogsResponse | config_pb2.ListErrorLogsResponse
    if kind == "requests":
        reply = await rpc(
            rt.config.ListRequestLogs(
                config_pb2.ListRequestLogsRequest(filter=f, page_size=size, before_id=before), timeout=30
            )
        )
    else:
        request = config_pb2.ListErrorLogsRequest(filter=f, page_size=size, before_id=before, with_body=body)
        reply = await rpc(rt.config.ListErrorLogs(request, timeout=30))
    return Page(entries=[entry(e) for e in reply.entries], next_before_id=reply.next_before_id or None)


@router.get("/logs/{kind}", response_model=Page, summary="Logs, newest first, filtered and paged")
async def list_logs(
    kind: Kind,
    rt: Rt,
    f: Filtered,
    page_size: int = Query(50, ge=1, le=1000),
    before_id: int = Query(0, ge=0),
) -> Page:
    return await page(rt, kind, f.message(), page_size, before_id, body=False)


@router.get("/logs/{kind}/{record_id}", summary="One record (error logs with the request body, when kept)")
async def detail(kind: Kind, record_id: int, rt: Rt) -> dict[str, object]:
    found = await page(rt, kind, config_pb2.LogFilter(id=record_id), 1, 0, body=True)
    if not found.entries:
        raise HTTPException(404, f"No {kind[:-1]} log {record_id}.")
    return found.entries[0]


@router.delete("/logs/{kind}", summary="Delete logs by id, everything older than a time, or all")
async def delete_logs(
    kind: Kind,
    rt: Rt,
    ids: Annotated[list[int], Query()] = [],  # noqa: B006 - FastAPI copies query defaults
    before: float | None = Query(None, description="Unix time: delete everything older"),
    all: bool = Query(False, description="Delete every record of this kind"),  # noqa: A002
) -> dict[str, int]:
    if not ids and before is None and not all:
        raise HTTPException(422, [{"name": "ids", "message": "give ids, before or all=true"}])
    request = config_pb2.DeleteLogsRequest(kind=KINDS[kind], ids=ids, before_unix=before or 0, all=all)
    reply = await rpc(rt.config.DeleteLogs(request, timeout=120))
    return {"deleted": reply.deleted}


def utc_offset(timezone: str, at: float) -> int:
    try:
        offset = datetime.fromtimestamp(at, ZoneInfo(timezone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


@router.get("/stats", summary="Calls, success rate and tokens over a time range, by model, key and token")
async def stats(
    rt: Rt,
    since: float | None = Query(None, description="Unix time; default: a day before until"),
    until: float | None = Query(None, description="Unix time; default: now"),
    bucket: Literal["minute", "hour", "day"] | None = Query(None, description="Add a series in these steps"),
    top: int = Query(20, ge=1, le=1000),
    key_id: str = Query("", description="Only this key's calls: its usage history"),
) -> dict[str, object]:
    """Buckets align to hours and days in the TIMEZONE setting."""
    end = until or time.time()
    request = config_pb2.GetStatsRequest(
        since_unix=since if since is not None else end - 86400,
        until_unix=end,
        bucket_seconds=BUCKETS[bucket] if bucket else 0,
        tz_offset_seconds=utc_offset(live_of(rt).settings.TIMEZONE, end),
        top=top,
        key_id=key_id,
    )
    reply = await rpc(rt.config.GetStats(request, timeout=60))
    return plain(reply)
