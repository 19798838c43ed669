"""Settings: read (with source, schema and environment drift), update, history, rollback."""

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.common.advice import Advice, advise
from gempool.common.live import LiveSettings
from gempool.gateway.admin.deps import AdminUser, Rt, field_errors, live_of, masked, rpc, unix_or_none

router = APIRouter(prefix="/settings", tags=["admin: settings"])

SECRETS = {
    name
    for name, field in LiveSettings.model_fields.items()
    if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
}


class SettingOut(BaseModel):
    name: str
    value: Any = Field(description="Secrets are masked.")
    default: Any
    source: str = Field(description="default, env (seeded), admin, cli, generated, rollback or import")
    updated_at: float | None
    updated_by: str
    description: str
    group: str
    secret: bool
    env_differs: bool = Field(
        description="The config service's environment now holds another value, which is ignored: "
        "after the first start the database wins."
    )


class AdviceOut(BaseModel):
    setting: str
    message: str


class SettingsOut(BaseModel):
    revision: int
    settings: list[SettingOut]
    advice: list[AdviceOut] = Field(
        description="Settings that are valid one by one but, together, will not do what you likely want."
    )


class SettingsPatch(BaseModel):
    values: dict[str, Any] = Field(
        description='Setting name -> new value, as JSON values: {"MAX_RETRIES": 5, "PROXIES": ["http://p:1"]}.'
    )


class Revision(BaseModel):
    revision: int


class Change(BaseModel):
    id: int
    name: str
    old: Any = Field(description="Absent for the first value ever stored; secrets masked.")
    new: Any
    actor: str
    at: float


class History(BaseModel):
    changes: list[Change]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page.")


class Rollback(BaseModel):
    change_id: int = Field(description="The history entry whose value is stored again.")


def masked_proxy(url: str) -> str:
    """``http://user:pass@host:port`` -> ``http://***@host:port``: the host tells proxies apart."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    _, at, host = authority.rpartition("@")
    return f"{scheme}{sep}***@{host}{slash}{path}" if at else url


def masked_setting(name: str, value: Any) -> Any:
    """A secret setting as the admin API shows it (also in history): tokens as the first characters
    of their digests, proxies without their credentials, custom headers without their values."""
    if name == "PROXIES" and isinstance(value, list):
        return [masked_proxy(p) if isinstance(p, str) else p for p in value]
    return masked(value)


def unmasked(name: str, value: Any, current: Any) -> Any:
    """A secret as the panel sends it back: entries still masked become the stored ones again (a
    mask two stored entries share is refused: the whole value must be sent)."""
    if isinstance(value, dict) and isinstance(current, dict):
        return {k: current[k] if k in current and v == masked(current[k]) else v for k, v in value.items()}
    if not (isinstance(value, list) and isinstance(current, list)):
        return value
    stored: dict[Any, Any] = {}
    for item in current:
        shown = masked_setting(name, [item])[0]
        stored[shown] = None if stored.get(shown, item) != item else item
    out = []
    for item in value:
        if isinstance(item, str) and item in stored:
            if stored[item] is None:
                message = f"{item!r} masks more than one stored entry; send the whole value"
                raise HTTPException(422, [{"name": name, "message": message}])
            item = stored[item]
        out.append(item)
    return out


def shown(name: str, wire: str) -> Any:
    value = json.loads(wire)
    return masked_setting(name, value) if name in SECRETS else value


def to_out(info: config_pb2.SettingInfo) -> SettingOut:
    return SettingOut(
        name=info.name,
        value=shown(info.name, info.value),
        default=shown(info.name, info.default_value),
        source=info.source,
        updated_at=unix_or_none(info.updated_at_unix),
        updated_by=info.updated_by,
        description=info.description,
        group=info.group,
        secret=info.secret,
        env_differs=info.env_differs,
    )


@router.get("", response_model=SettingsOut, summary="Every setting with its value and where it came from")
async def read(rt: Rt) -> SettingsOut:
    reply = await rpc(rt.config.DescribeSettings(config_pb2.DescribeSettingsRequest(), timeout=10))
    return SettingsOut(
        revision=reply.revision,
        settings=[to_out(i) for i in reply.settings],
        advice=[AdviceOut(setting=a.setting, message=a.message) for a in advice_for(reply.settings)],
    )


def advice_for(infos: Sequence[config_pb2.SettingInfo]) -> list[Advice]:
    live, refused = LiveSettings.from_wire_checked({i.name: i.value for i in infos})
    stale = [
        Advice(
            name, f"The stored value is not valid ({why}); the default applies until you store a valid one."
        )
        for name, why in refused.items()
    ]
    return stale + advise(live)


@router.patch("", response_model=Revision, summary="Change settings (validated; all or nothing)")
async def update(body: SettingsPatch, rt: Rt, admin: AdminUser) -> Revision:
    """A 422 names each setting that is wrong and why; nothing is stored then. A masked secret sent
    back unchanged (as the panel read it) keeps the stored value."""
    current = live_of(rt).settings.model_dump(mode="json")
    values = {
        name: json.dumps(unmasked(name, value, current.get(name)) if name in SECRETS else value)
        for name, value in body.values.items()
        if not (name in SECRETS and value == masked_setting(name, current.get(name)))
    }
    request = config_pb2.UpdateSettingsRequest(values=values, actor=admin.actor)
    reply = await rpc(rt.config.UpdateSettings(request, timeout=10))
    if reply.errors:
        raise field_errors(reply.errors)
    return Revision(revision=reply.snapshot.revision)


@router.get("/history", response_model=History, summary="Changes, newest first")
async def history(
    rt: Rt,
    name: str = Query("", description="Only this setting"),
    page_size: int = Query(100, ge=1, le=500),
    before_id: int = Query(0, ge=0),
) -> History:
    request = config_pb2.ListSettingsHistoryRequest(name=name, page_size=page_size, before_id=before_id)
    reply = await rpc(rt.config.ListSettingsHistory(request, timeout=10))
    changes = [
        Change(
            id=c.id,
            name=c.name,
            old=shown(c.name, c.old_value) if c.HasField("old_value") else None,
            new=shown(c.name, c.new_value),
            actor=c.actor,
            at=c.at_unix,
        )
        for c in reply.changes
    ]
    return History(changes=changes, next_before_id=reply.next_before_id or None)


@router.post("/rollback", response_model=Revision, summary="Store again the value a history entry set")
async def rollback(body: Rollback, rt: Rt, admin: AdminUser) -> Revision:
    request = config_pb2.RollbackSettingRequest(change_id=body.change_id, actor=admin.actor)
    reply = await rpc(rt.config.RollbackSetting(request, timeout=10))
    if not reply.found:
        raise HTTPException(404, f"No history entry {body.change_id}.")
    if reply.errors:
        raise field_errors(reply.errors)
    return Revision(revision=reply.snapshot.revision)
