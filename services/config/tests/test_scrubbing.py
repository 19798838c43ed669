"""The config service stores no whole key in a key's reason or an error log, whoever sent one."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import key_id
from gempool.config import logquery, models
from gempool.config.store import Store

if TYPE_CHECKING:
    from gempool.api.config.v1.config_pb2_grpc import ConfigServiceAsyncStub

Starter = Callable[..., AbstractAsyncContextManager["ConfigServiceAsyncStub"]]
KEY = "AIzaSySTORED00000000000000000000000x9Qk"
SUSPENDED = f"Permission denied: Consumer 'api_key:{KEY}' has been suspended."


async def test_a_reason_quoting_a_key_is_stored_masked(start: Starter) -> None:
    async with start(env={"AUTH_TOKEN": "admin-secret"}) as stub:
        await stub.AddKeys(config_pb2.AddKeysRequest(keys=[config_pb2.NewKey(api_key=KEY)]))
        retire = config_pb2.SetKeyStatusRequest(
            key_id=key_id(KEY), status=config_pb2.KEY_STATUS_RETIRED, reason=SUSPENDED
        )
        assert (await stub.SetKeyStatus(retire)).found
        [listed] = (await stub.ListKeys(config_pb2.ListKeysRequest())).keys
    assert listed.reason == "Permission denied: Consumer 'api_key:AIza...x9Qk' has been suspended."


async def test_an_error_log_quoting_a_key_is_stored_masked(start: Starter, engine: Engine) -> None:
    error = config_pb2.ErrorLog(status=403, message=SUSPENDED, request_body=f'{{"note": "{KEY}"}}')
    async with start(env={"AUTH_TOKEN": "admin-secret"}) as stub:
        await stub.WriteLogs(config_pb2.WriteLogsRequest(errors=[error]))
    with Session(engine) as session:
        [row] = session.scalars(select(models.ErrorLog)).all()
    assert KEY not in row.message and "AIza...x9Qk" in row.message
    assert KEY not in (row.request_body or "")


def test_an_error_log_stored_before_scrubbing_is_read_masked(
    make_store: Callable[..., Store], engine: Engine
) -> None:
    store = make_store({"AUTH_TOKEN": "a"})
    with Session(engine) as session, session.begin():
        session.add(
            models.ErrorLog(
                at=datetime.now(UTC),
                key_masked="",
                model="m",
                status=403,
                error_code="PERMISSION_DENIED",
                message=SUSPENDED,
                request_body=KEY,
                request_id="r",
                token_name="t",
            )
        )
    listed = store.run(logquery.list_errors, config_pb2.ListErrorLogsRequest(with_body=True))
    assert KEY not in str(listed) and "AIza...x9Qk" in listed.entries[0].log.message
