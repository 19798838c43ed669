"""Client token records: secret shown once, digests in the snapshot, seeding from ALLOWED_TOKENS."""

import asyncio
import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, TypeAlias

import grpc
from sqlalchemy import Engine, text

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_of

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]
ENV = {"AUTH_TOKEN": "admin-secret", "ALLOWED_TOKENS": "team-a-token, team-b-token"}


Watching: TypeAlias = grpc.aio.UnaryStreamCall[config_pb2.WatchRequest, config_pb2.WatchResponse]


async def next_snapshot(stream: Watching) -> config_pb2.SettingsSnapshot:
    message = await asyncio.wait_for(stream.read(), 1.0)
    assert isinstance(message, config_pb2.WatchResponse), message
    return message.snapshot


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def test_create_shows_the_secret_once_and_pushes_its_digest(start: Starter, engine: Engine) -> None:
    async with start(env=ENV) as stub:
        stream = stub.Watch(config_pb2.WatchRequest())
        first = await next_snapshot(stream)
        request = config_pb2.CreateTokenRequest(
            name=" team-c ",
            allowed_models=["models/gemini-2.5-flash", "gemini-2.5-*"],
            rpm_limit=30,
            actor="al",
        )
        created = await stub.CreateToken(request)
        pushed = await next_snapshot(stream)
        again = await stub.CreateToken(config_pb2.CreateTokenRequest(name="team-c"))
        bad = await stub.CreateToken(config_pb2.CreateTokenRequest(name="", rpm_limit=-1))
        listed = await stub.ListTokens(config_pb2.ListTokensRequest())
        stream.cancel()
    secret = created.secret
    assert list(created.errors) == [] and secret.startswith("gp-") and len(secret) >= 40
    assert pushed.tokens_revision == first.tokens_revision + 1 and pushed.revision == first.revision
    token = next(t for t in pushed.tokens if t.name == "team-c")
    assert token.digest == sha(secret) and token.enabled and token.rpm_limit == 30
    assert list(token.allowed_models) == ["gemini-2.5-flash", "gemini-2.5-*"]
    assert [e.name for e in again.errors] == ["name"] and not again.secret
    assert sorted(e.name for e in bad.errors) == ["name", "rpm_limit"]
    record = next(r for r in listed.tokens if r.token.name == "team-c")
    assert record.hint == f"{secret[:4]}...{secret[-4:]}" and record.created_at_unix > 0
    assert secret not in str(listed)
    with engine.connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM client_tokens"))], default=str)
    assert secret not in stored and sha(secret) in stored


async def test_allowed_tokens_seed_records_once(start: Starter) -> None:
    async with start(env=ENV) as stub:
        seeded = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot
    async with start(env={**ENV, "ALLOWED_TOKENS": "other"}) as stub:
        later = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot
    assert [(t.name, t.digest) for t in seeded.tokens] == [
        ("allowed-token-1", sha("team-a-token")),
        ("allowed-token-2", sha("team-b-token")),
    ]
    assert later.tokens == seeded.tokens


async def test_update_and_delete(start: Starter) -> None:
    async with start(env=ENV) as stub:
        tokens = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot.tokens
        first, second = tokens[0].id, tokens[1].id
        change = config_pb2.UpdateTokenRequest(
            id=first, enabled=False, rpm_limit=5, allowed_models=config_pb2.ModelList(models=["m1"])
        )
        updated = await stub.UpdateToken(change)
        renamed = await stub.UpdateToken(config_pb2.UpdateTokenRequest(id=second, name="allowed-token-1"))
        missing = await stub.UpdateToken(config_pb2.UpdateTokenRequest(id=999, enabled=True))
        deleted = await stub.DeleteToken(config_pb2.DeleteTokenRequest(id=second, actor="al"))
        after = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot
        gone = await stub.DeleteToken(config_pb2.DeleteTokenRequest(id=second))
    token = updated.token.token
    assert (token.enabled, token.rpm_limit, list(token.allowed_models)) == (False, 5, ["m1"])
    assert token.name == "allowed-token-1"  # fields not sent stay as they were
    assert [e.name for e in renamed.errors] == ["name"]
    assert not missing.found and deleted.found and not gone.found
    assert [t.id for t in after.tokens] == [first]
    # a deleted token must not keep working through ALLOWED_TOKENS
    assert json.loads(after.values["ALLOWED_TOKENS"]) == [digest_of("team-a-token")]


async def test_a_token_can_be_bound_to_a_key_tag(start: Starter) -> None:
    async with start(env=ENV) as stub:
        made = await stub.CreateToken(config_pb2.CreateTokenRequest(name="team-x", key_tag=" team-x-keys "))
        kept = await stub.UpdateToken(config_pb2.UpdateTokenRequest(id=made.token.token.id, rpm_limit=3))
        cleared = await stub.UpdateToken(config_pb2.UpdateTokenRequest(id=made.token.token.id, key_tag=""))
        snapshot = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot
    assert made.token.token.key_tag == "team-x-keys"
    assert kept.token.token.key_tag == "team-x-keys", "a field not sent stays"
    assert cleared.token.token.key_tag == ""
    assert next(t for t in snapshot.tokens if t.name == "team-x").key_tag == ""


async def test_tokens_added_to_allowed_tokens_later_are_listed_and_editable(start: Starter) -> None:
    async with start(env=ENV) as stub:
        await stub.UpdateSettings(
            config_pb2.UpdateSettingsRequest(
                values={"ALLOWED_TOKENS": json.dumps(["team-a-token", "team-b-token", "late-token"])},
                actor="al",
            )
        )
        listed = (await stub.ListTokens(config_pb2.ListTokensRequest())).tokens
        late = next(r for r in listed if r.token.digest == sha("late-token"))
        renamed = await stub.UpdateToken(config_pb2.UpdateTokenRequest(id=late.token.id, name="team-late"))
        snapshot = (await stub.GetSettings(config_pb2.GetSettingsRequest())).snapshot
        await stub.UpdateSettings(
            config_pb2.UpdateSettingsRequest(
                values={"ALLOWED_TOKENS": json.dumps(["team-a-token"])}, actor="al"
            )
        )
        after = (await stub.ListTokens(config_pb2.ListTokensRequest())).tokens
    assert [r.token.name for r in listed] == ["allowed-token-1", "allowed-token-2", "allowed-token-3"]
    assert [r.token.name for r in after] == ["allowed-token-1"], "a secret taken out no longer lets anyone in"
    assert late.hint == "***(10)" and renamed.token.token.name == "team-late"
    assert "team-late" in {t.name for t in snapshot.tokens}
