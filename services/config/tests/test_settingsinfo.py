"""What the admin API learns about settings: source, schema, environment drift, history, rollback."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from gempool.api.config.v1 import config_pb2

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]


async def describe(stub: "ConfigServiceAsyncStub") -> dict[str, config_pb2.SettingInfo]:
    reply = await stub.DescribeSettings(config_pb2.DescribeSettingsRequest())
    return {info.name: info for info in reply.settings}


async def test_describe_tells_source_schema_and_env_drift(start: Starter) -> None:
    async with start(env={"AUTH_TOKEN": "admin-1", "MAX_RETRIES": "5", "TIME_OUT": "60"}) as stub:
        seeded = await describe(stub)
    # a later start with a different environment: the database wins, and says so per setting
    later_env = {"AUTH_TOKEN": "admin-2", "MAX_RETRIES": "5", "TIME_OUT": "nonsense", "TEST_MODEL": "x"}
    async with start(env=later_env) as stub:
        await stub.UpdateSettings(config_pb2.UpdateSettingsRequest(values={"MAX_FAILURES": "9"}, actor="bo"))
        later = await describe(stub)
    assert (seeded["MAX_RETRIES"].source, seeded["BASE_URL"].source) == ("env", "default")
    assert not any(info.env_differs for info in seeded.values())
    retries = later["MAX_RETRIES"]
    assert (retries.value, retries.default_value, retries.group) == ("5", "3", "upstream")
    assert retries.description.startswith("Further keys")
    assert (later["MAX_FAILURES"].source, later["MAX_FAILURES"].updated_by) == ("admin", "bo")
    assert later["AUTH_TOKEN"].secret and not later["MAX_RETRIES"].secret
    differ = sorted(name for name, info in later.items() if info.env_differs)
    assert differ == ["AUTH_TOKEN", "TEST_MODEL", "TIME_OUT"]


async def test_history_pages_and_rollback(start: Starter) -> None:
    async with start(env={}) as stub:  # no AUTH_TOKEN: seeded empty, then one is generated
        for value in ("4", "5", "6"):
            await stub.UpdateSettings(
                config_pb2.UpdateSettingsRequest(values={"MAX_RETRIES": value}, actor="al")
            )
        request = config_pb2.ListSettingsHistoryRequest(name="MAX_RETRIES", page_size=2)
        page1 = await stub.ListSettingsHistory(request)
        request.before_id = page1.next_before_id
        page2 = await stub.ListSettingsHistory(request)
        to_four = next(c for c in page2.changes if c.new_value == "4").id
        rolled = await stub.RollbackSetting(config_pb2.RollbackSettingRequest(change_id=to_four, actor="al"))
        unknown = await stub.RollbackSetting(config_pb2.RollbackSettingRequest(change_id=10**9))
        everything = await stub.ListSettingsHistory(config_pb2.ListSettingsHistoryRequest(page_size=500))
        empty_token = next(c for c in everything.changes if c.name == "AUTH_TOKEN" and c.new_value == '""')
        refused = await stub.RollbackSetting(config_pb2.RollbackSettingRequest(change_id=empty_token.id))
        described = await describe(stub)
    changes = [*page1.changes, *page2.changes]
    assert [(c.old_value, c.new_value, c.actor) for c in changes] == [
        ("5", "6", "al"),
        ("4", "5", "al"),
        ("3", "4", "al"),
        ("", "3", "seed"),
    ]
    assert page1.next_before_id == page1.changes[-1].id and page2.next_before_id == 0
    assert rolled.found and list(rolled.errors) == [] and rolled.snapshot.values["MAX_RETRIES"] == "4"
    assert (described["MAX_RETRIES"].source, described["MAX_RETRIES"].updated_by) == ("rollback", "al")
    assert not unknown.found
    assert not empty_token.HasField("old_value")  # the first value ever stored
    # a rollback is validated like any update: an empty admin token would lock the panel
    assert refused.found and [e.name for e in refused.errors] == ["AUTH_TOKEN"]
    assert json.loads(refused.snapshot.values["AUTH_TOKEN"])
