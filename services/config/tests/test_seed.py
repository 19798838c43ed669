"""Seeding from the environment on the first start; the database wins on later starts."""

import json
import logging
import stat
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_of
from gempool.common.keys import key_id
from gempool.config.models import Setting
from gempool.config.seed import read_env
from gempool.config.settings import ConfigServiceSettings

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]
KEY1, KEY2, KEY3 = (f"AIzaSyTEST{n:029d}" for n in (1, 2, 3))


def all_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every logged message with its structured fields, as a reader of the JSON logs would see it."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def snapshot_values(start: Starter, env: dict[str, str]) -> dict[str, str]:
    async with start(env=env) as stub:
        reply = await stub.GetSettings(config_pb2.GetSettingsRequest())
    return dict(reply.snapshot.values)


async def list_keys(start: Starter, env: dict[str, str]) -> list[config_pb2.KeyRecord]:
    async with start(env=env) as stub:
        return list((await stub.ListKeys(config_pb2.ListKeysRequest())).keys)


async def test_first_start_seeds_later_starts_keep_the_database(
    start: Starter, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = {"MAX_RETRIES": "5", "TEST_MODEL": "m-one", "AUTH_TOKEN": "admin-one", "ALLOWED_TOKENS": "c1, c2"}
    seeded = await snapshot_values(start, first)
    assert (seeded["MAX_RETRIES"], seeded["TEST_MODEL"]) == ("5", '"m-one"')
    assert json.loads(seeded["ALLOWED_TOKENS"]) == [digest_of("c1"), digest_of("c2")]
    assert seeded["AUTH_TOKEN"] == json.dumps(digest_of("admin-one", note_short=True))

    caplog.clear()
    later = await snapshot_values(
        start, {"MAX_RETRIES": "7", "AUTH_TOKEN": "admin-two", "TEST_MODEL": "m-one"}
    )
    assert later == seeded
    differ = [r for r in caplog.records if r.getMessage().startswith("environment differs")]
    assert [r.__dict__["settings"] for r in differ] == [["AUTH_TOKEN", "MAX_RETRIES"]]
    assert "admin-two" not in all_text(caplog) and "admin-one" not in all_text(caplog)
    with Session(engine) as session:
        sources = dict(session.execute(select(Setting.name, Setting.source)).all())
    assert (sources["MAX_RETRIES"], sources["BASE_URL"]) == ("env", "default")


async def test_bad_env_value_logs_one_line_and_keeps_the_default(
    start: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    values = await snapshot_values(
        start, {"MAX_RETRIES": "lots", "TIME_OUT": "-1", "TEST_MODEL": "fine-model"}
    )
    assert (values["MAX_RETRIES"], values["TIME_OUT"]) == ("3", "300.0")
    assert values["TEST_MODEL"] == '"fine-model"'
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sorted(r.__dict__["setting"] for r in errors) == ["MAX_RETRIES", "TIME_OUT"]
    line = next(r.getMessage() for r in errors if r.__dict__["setting"] == "MAX_RETRIES")
    assert "MAX_RETRIES" in line and "integer" in line and "default 3" in line
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize(
    "api_keys",
    [json.dumps([KEY1, KEY2, KEY1]), f" {KEY1} ,{KEY2}\n{KEY1}", f"'{KEY1}', \"{KEY2}\""],
    ids=["json-list", "comma-list", "quoted-list"],
)
async def test_key_settings_seed_key_records(start: Starter, api_keys: str) -> None:
    env = {"API_KEYS": api_keys, "PAID_KEY": f" {KEY3} ", "VERTEX_API_KEYS": f'["{KEY2}"]'}
    keys = await list_keys(start, env)
    # KEY2 is both a free and a vertex key in the env: one record, the first kind wins.
    assert {k.key_id: (k.api_key, k.kind) for k in keys} == {
        key_id(KEY1): (KEY1, config_pb2.KEY_KIND_UNSPECIFIED),
        key_id(KEY2): (KEY2, config_pb2.KEY_KIND_UNSPECIFIED),
        key_id(KEY3): (KEY3, config_pb2.KEY_KIND_PAID),
    }
    assert all(k.status == config_pb2.KEY_STATUS_ACTIVE for k in keys)


async def test_vertex_keys_and_bad_key_list(start: Starter, caplog: pytest.LogCaptureFixture) -> None:
    keys = await list_keys(start, {"API_KEYS": f'["{KEY1}", ', "VERTEX_API_KEYS": KEY2})
    assert [(k.api_key, k.kind) for k in keys] == [(KEY2, config_pb2.KEY_KIND_VERTEX)]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("invalid API_KEYS") and "JSON" in errors[0]
    assert KEY1 not in all_text(caplog)


async def test_admin_token_generated_never_from_client_tokens(
    start: Starter, settings: ConfigServiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    values = await snapshot_values(start, {"ALLOWED_TOKENS": '["client-1"]', "AUTH_TOKEN": ""})
    path = settings.ADMIN_TOKEN_FILE
    token = path.read_text().strip()
    assert len(token) >= 32 and token != "client-1"
    assert json.loads(values["AUTH_TOKEN"]) == digest_of(token)  # the database keeps only its digest
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in all_text(caplog) and token not in all_text(caplog)

    path.unlink()
    again = await snapshot_values(start, {})
    assert again["AUTH_TOKEN"] == values["AUTH_TOKEN"] and not path.exists()


def test_read_env_takes_dotenv_and_lets_the_process_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f'MAX_RETRIES=4\nAPI_KEYS=["{KEY1}"]\nTEST_MODEL=from-file\nPORT=1\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEST_MODEL", "from-process")
    monkeypatch.setenv("time_out", "9")
    env = read_env()
    assert env["MAX_RETRIES"] == "4" and env["API_KEYS"] == f'["{KEY1}"]'
    assert (env["TEST_MODEL"], env["TIME_OUT"]) == ("from-process", "9")
    assert "PORT" not in env
