"""The RPCs through a real in-process server and the generated stub, on both backends."""

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, TypeAlias

import grpc
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import key_id
from gempool.config import models

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]
ENV = {"AUTH_TOKEN": "admin-secret"}


async def settings_of(stub: "ConfigServiceAsyncStub") -> config_pb2.SettingsSnapshot:
    return (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot


async def update(
    stub: "ConfigServiceAsyncStub", actor: str = "alice", **values: str
) -> config_pb2.UpdateSettingsResponse:
    return await stub.UpdateSettings(config_pb2.UpdateSettingsRequest(values=values, actor=actor))


def history(engine: Engine) -> list[tuple[str, str | None, str, str]]:
    row = models.SettingHistory
    query = select(row.name, row.old, row.new, row.actor).where(row.actor != "seed").order_by(row.id)
    with Session(engine) as session:
        return [(r.name, r.old, r.new, r.actor) for r in session.execute(query)]


Watching: TypeAlias = grpc.aio.UnaryStreamCall[config_pb2.WatchRequest, config_pb2.WatchResponse]


async def next_snapshot(stream: Watching, within: float = 1.0) -> config_pb2.SettingsSnapshot:
    message = await asyncio.wait_for(stream.read(), within)
    assert isinstance(message, config_pb2.WatchResponse), message
    return message.snapshot


def new_keys(*api_keys: str) -> config_pb2.AddKeysRequest:
    return config_pb2.AddKeysRequest(keys=[config_pb2.NewKey(api_key=k) for k in api_keys])


async def test_update_settings_stores_and_records_history(start: Starter, engine: Engine) -> None:
    async with start(env=ENV) as stub:
        before = await settings_of(stub)
        reply = await update(stub, MAX_RETRIES="5", LOG_LEVEL='"debug"', TEST_MODEL='"gemini-x"')
        assert list(reply.errors) == []
        after = await settings_of(stub)
    assert reply.snapshot == after
    assert (after.values["MAX_RETRIES"], after.values["LOG_LEVEL"]) == ("5", '"DEBUG"')
    assert after.revision == before.revision + 1 and after.keys_revision == before.keys_revision
    assert sorted(history(engine)) == [
        ("LOG_LEVEL", '"INFO"', '"DEBUG"', "alice"),
        ("MAX_RETRIES", "3", "5", "alice"),
        ("TEST_MODEL", '"gemini-2.5-flash-lite"', '"gemini-x"', "alice"),
    ]
    with Session(engine) as session:
        row = session.get(models.Setting, "MAX_RETRIES")
        assert row is not None and (row.source, row.updated_by) == ("admin", "alice")


@pytest.mark.parametrize(
    ("values", "invalid"),
    [
        ({"MAX_RETRIES": "5", "TIME_OUT": "0", "NOT_A_SETTING": "1"}, ["NOT_A_SETTING"]),
        ({"MAX_RETRIES": "5", "TIME_OUT": "0", "PROXIES": '["ftp://x"]'}, ["PROXIES", "TIME_OUT"]),
        ({"MAX_RETRIES": "5", "TEST_MODEL": "bare text"}, ["TEST_MODEL"]),
        ({"MAX_RETRIES": "5", "AUTH_TOKEN": '""'}, ["AUTH_TOKEN"]),
    ],
    ids=["unknown", "out-of-range", "not-json", "empty-admin-token"],
)
async def test_invalid_update_stores_nothing(
    start: Starter, engine: Engine, values: dict[str, str], invalid: list[str]
) -> None:
    async with start(env=ENV) as stub:
        before = await settings_of(stub)
        reply = await update(stub, **values)
        after = await settings_of(stub)
    assert [e.name for e in reply.errors] == invalid
    assert all(e.message for e in reply.errors)
    assert after == before and after.values["MAX_RETRIES"] == "3"
    assert history(engine) == []


async def test_unchanged_values_do_not_move_the_revision(start: Starter, engine: Engine) -> None:
    async with start(env=ENV) as stub:
        before = await settings_of(stub)
        reply = await update(stub, MAX_RETRIES="3")
    assert list(reply.errors) == [] and reply.snapshot.revision == before.revision
    assert history(engine) == []


async def test_watch_sends_the_snapshot_then_each_change(start: Starter) -> None:
    async with start(env=ENV) as stub:
        stream = stub.Watch(config_pb2.WatchRequest())
        first = await next_snapshot(stream)
        assert first == await settings_of(stub)
        await update(stub, MAX_RETRIES="9")
        changed = await next_snapshot(stream)
        assert changed.values["MAX_RETRIES"] == "9" and changed.revision == first.revision + 1
        await stub.AddKeys(new_keys("AIzaSyWATCHED0000000001"))
        keyed = await next_snapshot(stream)
        assert keyed.keys_revision == first.keys_revision + 1 and keyed.revision == changed.revision
        stream.cancel()


async def test_watch_sees_changes_made_by_another_replica(start: Starter) -> None:
    async with start(env=ENV) as watched, start(env=ENV) as other:
        stream = watched.Watch(config_pb2.WatchRequest())
        first = await next_snapshot(stream)
        assert list((await update(other, actor="bob", MAX_FAILURES="7")).errors) == []
        moved = await next_snapshot(stream, within=1.0)
        assert moved.values["MAX_FAILURES"] == "7" and moved.revision > first.revision
        request = config_pb2.SetKeyStatusRequest(status=config_pb2.KEY_STATUS_DISABLED, reason="x")
        await other.AddKeys(new_keys("AIzaSyREPLICA0000000001"))
        await other.SetKeyStatus(request)  # unknown key_id: not found, no bump
        keyed = await next_snapshot(stream, within=1.0)
        assert keyed.keys_revision == first.keys_revision + 1
        stream.cancel()


async def test_keys_add_in_bulk_and_list_in_pages(start: Starter) -> None:
    new = [config_pb2.NewKey(api_key=f"AIzaSyBULK{n:025d}", tags=["bulk"]) for n in range(1200)]
    new[0].kind = config_pb2.KEY_KIND_PAID
    async with start(env=ENV) as stub:
        before = (await stub.ListKeys(config_pb2.ListKeysRequest())).keys_revision
        first = await stub.AddKeys(config_pb2.AddKeysRequest(keys=new))
        more = [*new[:300], *(config_pb2.NewKey(api_key=f"AIzaSyMORE{n:025d}") for n in range(5)), new[0]]
        second = await stub.AddKeys(config_pb2.AddKeysRequest(keys=more))
        pages, token = [], ""
        while True:
            page = await stub.ListKeys(config_pb2.ListKeysRequest(page_size=500, page_token=token))
            pages.append(page)
            if not (token := page.next_page_token):
                break
    assert (first.added, first.existing, second.added, second.existing) == (1200, 0, 5, 300)
    assert [len(p.keys) for p in pages] == [500, 500, 205]
    ids = [k.key_id for p in pages for k in p.keys]
    assert ids == sorted(set(ids)) and len(ids) == 1205
    assert all(k.key_id == key_id(k.api_key) for p in pages for k in p.keys)
    bulk = {k.api_key: k for p in pages for k in p.keys}
    assert bulk[new[0].api_key].kind == config_pb2.KEY_KIND_PAID
    assert list(bulk[new[1].api_key].tags) == ["bulk"]
    assert pages[-1].keys_revision == before + 2


async def test_key_status_and_removal_are_durable_and_bump_the_revision(start: Starter) -> None:
    keys = [config_pb2.NewKey(api_key=f"AIzaSySTATUS{n:022d}") for n in range(3)]
    kid = key_id(keys[0].api_key)
    async with start(env=ENV) as stub:
        await stub.AddKeys(config_pb2.AddKeysRequest(keys=keys))
        rev0 = (await settings_of(stub)).keys_revision
        retire = config_pb2.SetKeyStatusRequest(
            key_id=kid, status=config_pb2.KEY_STATUS_RETIRED, reason="429 x3"
        )
        assert (await stub.SetKeyStatus(retire)).found
        missing = config_pb2.SetKeyStatusRequest(key_id="nope", status=config_pb2.KEY_STATUS_ACTIVE)
        assert not (await stub.SetKeyStatus(missing)).found
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SetKeyStatus(config_pb2.SetKeyStatusRequest(key_id=kid))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        rev1 = (await settings_of(stub)).keys_revision
        removed = await stub.RemoveKeys(
            config_pb2.RemoveKeysRequest(key_ids=[key_id(keys[1].api_key), "nope"])
        )
        rev2 = (await settings_of(stub)).keys_revision
    async with start(env=ENV) as restarted:
        listed = {k.key_id: k for k in (await restarted.ListKeys(config_pb2.ListKeysRequest())).keys}
    assert (rev1, removed.removed, rev2) == (rev0 + 1, 1, rev0 + 2)
    assert set(listed) == {kid, key_id(keys[2].api_key)}
    assert (listed[kid].status, listed[kid].reason) == (config_pb2.KEY_STATUS_RETIRED, "429 x3")
    assert listed[kid].changed_at_unix > listed[key_id(keys[2].api_key)].changed_at_unix


async def test_key_writes_answer_the_revision_that_holds_them_and_tags_change(start: Starter) -> None:
    keys = [config_pb2.NewKey(api_key=f"AIzaSyTAGGED{n:022d}", tags=["old"]) for n in range(3)]
    ids = [key_id(k.api_key) for k in keys]
    async with start(env=ENV) as stub:
        added = await stub.AddKeys(config_pb2.AddKeysRequest(keys=keys))
        assert added.keys_revision == (await settings_of(stub)).keys_revision
        tagged = await stub.TagKeys(
            config_pb2.TagKeysRequest(key_ids=[*ids[:2], "nope"], add=["team-a", " "])
        )
        again = await stub.TagKeys(config_pb2.TagKeysRequest(key_ids=ids[:2], add=["team-a"]))
        swapped = await stub.TagKeys(config_pb2.TagKeysRequest(key_ids=ids, add=["new"], remove=["old"]))
        disabled = await stub.SetKeyStatus(
            config_pb2.SetKeyStatusRequest(key_id=ids[0], status=config_pb2.KEY_STATUS_DISABLED)
        )
        bulk = await stub.SetKeysStatus(
            config_pb2.SetKeysStatusRequest(
                key_ids=[*ids, "nope"], status=config_pb2.KEY_STATUS_RETIRED, reason="r"
            )
        )
        statuses = {k.key_id: k.status for k in (await stub.ListKeys(config_pb2.ListKeysRequest())).keys}
        removed = await stub.RemoveKeys(config_pb2.RemoveKeysRequest(key_ids=[ids[2]]))
        listed = {k.key_id: list(k.tags) for k in (await stub.ListKeys(config_pb2.ListKeysRequest())).keys}
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.TagKeys(config_pb2.TagKeysRequest(key_ids=ids, add=["x" * 129]))
    assert (tagged.changed, again.changed, swapped.changed) == (2, 0, 3)
    assert again.keys_revision == tagged.keys_revision == added.keys_revision + 1
    assert (swapped.keys_revision, disabled.keys_revision) == (
        tagged.keys_revision + 1,
        tagged.keys_revision + 2,
    )
    assert list(bulk.missing) == ["nope"] and bulk.keys_revision == disabled.keys_revision + 1
    assert set(statuses.values()) == {config_pb2.KEY_STATUS_RETIRED}, "many keys, one revision"
    assert removed.keys_revision == bulk.keys_revision + 1
    assert listed == {ids[0]: ["team-a", "new"], ids[1]: ["team-a", "new"]}
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_write_logs_stores_rows(start: Starter, engine: Engine) -> None:
    whole_key = "AIzaSyLEAKED000000000000000000000009Qk"
    requests = [
        config_pb2.RequestLog(
            at_unix=1_700_000_000 + n, model="gemini-2.5-pro", key_masked="AIza...9Qk", status=200
        )
        for n in range(3)
    ]
    errors = [
        config_pb2.ErrorLog(at_unix=1_700_000_100, key_masked=whole_key, status=429, message="quota"),
        config_pb2.ErrorLog(key_masked="", status=500, error_code="INTERNAL"),
    ]
    async with start(env=ENV) as stub:
        reply = await stub.WriteLogs(config_pb2.WriteLogsRequest(requests=requests, errors=errors))
    assert reply.stored == 5
    with Session(engine) as session:
        times = session.scalars(select(models.RequestLog.at).order_by(models.RequestLog.at)).all()
        logged = session.scalars(select(models.ErrorLog).order_by(models.ErrorLog.id)).all()
        assert session.scalar(select(func.count()).select_from(models.RequestLog)) == 3
    assert [t.timestamp() for t in times] == [1_700_000_000, 1_700_000_001, 1_700_000_002]
    assert [(e.status, e.message) for e in logged] == [(429, "quota"), (500, "")]
    assert logged[0].key_masked == "AIza...09Qk"
    assert whole_key not in json.dumps([e.key_masked for e in logged])


async def test_live_log_level_applies_to_the_config_service_too(start: Starter) -> None:
    root = logging.getLogger()
    async with start(env=ENV) as stub:
        await update(stub, LOG_LEVEL='"ERROR"')
        applied = root.level
        await update(stub, LOG_LEVEL='"INFO"')
    assert applied == logging.ERROR and root.level == logging.INFO
