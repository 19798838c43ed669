"""Every read path of the admin API masks secrets: token digests, proxy credentials, custom header
values; a masked value sent back unchanged keeps what is stored. The config service is a real
in-process gRPC server holding the settings as the real one stores them."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.digests import digest_of
from gempool.common.live import LiveSettings
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool

ADMIN = "admin-token-secrets-test-0001"
BEARER = {"authorization": f"Bearer {ADMIN}"}
PROXY = "http://proxyuser:proxy-password-1@proxy.example:3128"
HEADER = "header-secret-value-0001"
TEAM = "team-token-secrets-test"
STORED = LiveSettings(
    AUTH_TOKEN=ADMIN,
    ALLOWED_TOKENS=[TEAM],
    PROXIES=[PROXY, "socks5://open.example:1080"],
    CUSTOM_HEADERS={"x-upstream-auth": HEADER},
)
SECRETS = [ADMIN, TEAM, "proxy-password-1", "proxyuser", HEADER, *STORED.ALLOWED_TOKENS, STORED.AUTH_TOKEN]


def is_secret(name: str) -> bool:
    extra: Any = LiveSettings.model_fields[name].json_schema_extra or {}
    return bool(extra.get("secret"))


class FakeConfig(config_pb2_grpc.ConfigServiceServicer):
    def __init__(self) -> None:
        self.updates: list[dict[str, str]] = []

    async def DescribeSettings(self, request: Any, context: Any) -> config_pb2.DescribeSettingsResponse:
        defaults = LiveSettings().to_wire()
        infos = [
            config_pb2.SettingInfo(name=n, value=v, default_value=defaults[n], secret=is_secret(n))
            for n, v in STORED.to_wire().items()
        ]
        return config_pb2.DescribeSettingsResponse(settings=infos, revision=1)

    async def Watch(self, request: Any, context: Any) -> AsyncIterator[config_pb2.WatchResponse]:
        await asyncio.sleep(3600)  # the test's settings stay as set: no snapshot comes
        yield config_pb2.WatchResponse()

    async def ListSettingsHistory(self, request: Any, context: Any) -> config_pb2.ListSettingsHistoryResponse:
        wire = STORED.to_wire()
        changes = [
            config_pb2.SettingChange(id=i + 1, name=n, old_value=wire[n], new_value=wire[n], actor="a")
            for i, n in enumerate(("AUTH_TOKEN", "ALLOWED_TOKENS", "PROXIES", "CUSTOM_HEADERS"))
        ]
        return config_pb2.ListSettingsHistoryResponse(changes=changes)

    async def UpdateSettings(self, request: Any, context: Any) -> config_pb2.UpdateSettingsResponse:
        self.updates.append(dict(request.values))
        return config_pb2.UpdateSettingsResponse(snapshot=config_pb2.SettingsSnapshot(revision=2))


@pytest.fixture
async def config() -> AsyncIterator[tuple[FakeConfig, int]]:
    fake = FakeConfig()  # type: ignore[abstract]  # only the settings RPCs; the rest answer UNIMPLEMENTED
    server = grpc.aio.server()
    config_pb2_grpc.add_ConfigServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, port
    await server.stop(None)


@pytest.fixture
async def admin(
    fake_pool: tuple[FakeKeyPool, int], config: tuple[FakeConfig, int]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{fake_pool[1]}",
        CONFIG_ADDR=f"127.0.0.1:{config[1]}",
        IMAGEHOST_ADDR="127.0.0.1:1",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.rt.live = Live.build(STORED)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw/api/admin", headers=BEARER
        ) as client:
            yield client


async def test_settings_and_history_show_no_secret(admin: httpx.AsyncClient) -> None:
    read = await admin.get("/settings")
    history = await admin.get("/settings/history")
    assert read.status_code == 200 and history.status_code == 200
    for body in (read.text, history.text):
        assert [s for s in SECRETS if s in body] == []
    shown = {s["name"]: s["value"] for s in read.json()["settings"]}
    assert shown["PROXIES"] == ["http://***@proxy.example:3128", "socks5://open.example:1080"]
    assert shown["CUSTOM_HEADERS"] == {"x-upstream-auth": "head...0001"}
    assert shown["AUTH_TOKEN"] == STORED.AUTH_TOKEN[:15] + "…"
    secret = {s["name"] for s in read.json()["settings"] if s["secret"]}
    assert {"AUTH_TOKEN", "ALLOWED_TOKENS", "PROXIES", "CUSTOM_HEADERS"} <= secret
    changes = {c["name"]: c for c in history.json()["changes"]}
    assert changes["PROXIES"]["new"] == changes["PROXIES"]["old"] == shown["PROXIES"]


async def test_masked_values_sent_back_keep_what_is_stored(
    admin: httpx.AsyncClient, config: tuple[FakeConfig, int]
) -> None:
    shown = {s["name"]: s["value"] for s in (await admin.get("/settings")).json()["settings"]}
    values = {
        "PROXIES": [shown["PROXIES"][0], "http://new.example:8080"],  # one kept masked, one new
        "CUSTOM_HEADERS": {**shown["CUSTOM_HEADERS"], "x-new": "plain"},
        "ALLOWED_TOKENS": [*shown["ALLOWED_TOKENS"], "another-team-token"],
        "AUTH_TOKEN": shown["AUTH_TOKEN"],  # unchanged: not sent on
    }
    assert (await admin.patch("/settings", json={"values": values})).status_code == 200
    sent = {name: json.loads(value) for name, value in config[0].updates[-1].items()}
    assert sent == {
        "PROXIES": [PROXY, "http://new.example:8080"],
        "CUSTOM_HEADERS": {"x-upstream-auth": HEADER, "x-new": "plain"},
        "ALLOWED_TOKENS": [digest_of(TEAM), "another-team-token"],  # the config service hashes the new one
    }
