"""``python -m gempool.config reset-admin-token`` as a separate process beside a running service."""

import asyncio
import json
import os
import stat
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_of
from gempool.common.live import KEY_SETTINGS, LiveSettings
from gempool.config.settings import ConfigServiceSettings

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]


def cli_env(settings: ConfigServiceSettings) -> dict[str, str]:
    """This process's environment without live settings, pointed at the test database."""
    names = {*LiveSettings.model_fields, *KEY_SETTINGS}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    return env | {"DATABASE_URL": settings.DATABASE_URL, "ADMIN_TOKEN_FILE": str(settings.ADMIN_TOKEN_FILE)}


async def reset_admin_token(settings: ConfigServiceSettings) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gempool.config",
        "reset-admin-token",
        env=cli_env(settings),
        cwd=settings.ADMIN_TOKEN_FILE.parent.parent,  # no .env there
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_reset_admin_token_reaches_a_running_service(
    start: Starter, settings: ConfigServiceSettings
) -> None:
    async with start(env={"AUTH_TOKEN": "forgotten-token"}) as stub:
        stream = stub.Watch(config_pb2.WatchRequest())
        first = await asyncio.wait_for(stream.read(), 5)
        assert isinstance(first, config_pb2.WatchResponse), first  # not the end of the stream
        assert first.snapshot.values["AUTH_TOKEN"] == json.dumps(
            digest_of("forgotten-token", note_short=True)
        )
        code, out, err = await reset_admin_token(settings)
        assert code == 0, err
        token = out.strip()
        assert len(token) >= 32 and "\n" not in token and token not in err
        # the running service polls the revision row and pushes the new token to its watchers
        pushed = await asyncio.wait_for(stream.read(), 2)
        assert isinstance(pushed, config_pb2.WatchResponse), pushed
        assert pushed.snapshot.values["AUTH_TOKEN"] == json.dumps(digest_of(token))  # only its digest
        stream.cancel()
    assert settings.ADMIN_TOKEN_FILE.read_text().strip() == token
    assert stat.S_IMODE(settings.ADMIN_TOKEN_FILE.stat().st_mode) == 0o600
