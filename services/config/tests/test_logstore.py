"""Log batches are stored once; logs are listed filtered and paged, and deleted."""

from collections.abc import Callable
from typing import TypedDict, Unpack

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gempool.api.config.v1 import config_pb2
from gempool.config import logquery, models, tokenstore
from gempool.config.store import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Filter(TypedDict, total=False):
    """The LogFilter fields these tests filter by."""

    since_unix: float
    until_unix: float
    model: str
    model_exact: bool
    failed_only: bool
    id: int


def requests(n: int, **fields: object) -> list[config_pb2.RequestLog]:
    return [config_pb2.RequestLog(at_unix=T0 + i, request_id=f"r{i}", **fields) for i in range(n)]  # type: ignore[arg-type]


def count(engine: Engine, model: type[models.Base]) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_batch_delivered_twice_is_stored_once(make_store: Callable[..., Store], engine: Engine) -> None:
    store = make_store({"AUTH_TOKEN": "a", "ALLOWED_TOKENS": "team-token"})
    batch = requests(3, token_name="allowed-token-1", status=200)
    errors = [config_pb2.ErrorLog(at_unix=T0, status=429, token_name="allowed-token-1")]
    assert store.write_logs(batch, errors, "batch-1") == (4, False)
    assert store.write_logs(batch, errors, "batch-1") == (0, True)  # the answer was lost; a retry
    assert store.write_logs(batch[:1], [], "batch-2") == (1, False)
    assert (count(engine, models.RequestLog), count(engine, models.ErrorLog)) == (4, 1)
    record = store.list_tokens().tokens[0]
    assert record.token.name == "allowed-token-1" and record.last_used_at_unix == T0 + 2
    assert store.run(tokenstore.snapshot_tokens)[0].name == "allowed-token-1"


def test_list_filter_page_and_delete(make_store: Callable[..., Store]) -> None:
    store = make_store()
    store.write_logs(requests(5, model="m1", status=200) + requests(3, model="m2", status=503), [])
    errors = [
        config_pb2.ErrorLog(
            at_unix=T0 + i, model="m2", status=503, error_code="UNAVAILABLE", request_body="{}"
        )
        for i in range(3)
    ]
    store.write_logs([], errors)

    def listed(
        page_size: int = 50, before_id: int = 0, **f: Unpack[Filter]
    ) -> config_pb2.ListRequestLogsResponse:
        request = config_pb2.ListRequestLogsRequest(
            filter=config_pb2.LogFilter(**f), page_size=page_size, before_id=before_id
        )
        return store.run(logquery.list_requests, request)

    first = listed(page_size=3, model="m1")
    second = listed(page_size=3, before_id=first.next_before_id, model="m1")
    ids = [e.id for e in [*first.entries, *second.entries]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and second.next_before_id == 0
    assert {e.log.model for e in listed().entries} == {"m1", "m2"}
    assert len(listed(model="m").entries) == 8, "a model filter is a prefix"
    assert len(listed(model="m", model_exact=True).entries) == 0
    assert len(listed(model="m_").entries) == 0, "no SQL wildcard in a prefix"
    assert [e.log.status for e in listed(failed_only=True).entries] == [503] * 3
    assert len(listed(since_unix=T0 + 1, until_unix=T0 + 3).entries) == 4  # two of each model
    assert len(listed(id=ids[0]).entries) == 1

    plain = store.run(logquery.list_errors, config_pb2.ListErrorLogsRequest())
    detail = store.run(logquery.list_errors, config_pb2.ListErrorLogsRequest(with_body=True))
    assert {e.log.request_body for e in plain.entries} == {""}
    assert {e.log.request_body for e in detail.entries} == {"{}"}

    kind = config_pb2.LOG_KIND_REQUEST
    delete = store.run(logquery.delete_logs, config_pb2.DeleteLogsRequest(kind=kind, ids=ids[:2]))
    older = store.run(logquery.delete_logs, config_pb2.DeleteLogsRequest(kind=kind, before_unix=T0 + 1))
    left = listed()
    assert (delete, older) == (2, 2)  # the two oldest rows (one per model) went by time
    assert len(left.entries) == 4 and not {e.id for e in left.entries} & set(ids[:2])
    wipe = config_pb2.DeleteLogsRequest(kind=config_pb2.LOG_KIND_ERROR, all=True)
    assert store.run(logquery.delete_logs, wipe) == 3
