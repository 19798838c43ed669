"""The Session stream: many leases and reports over one stream, answered by id."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.keypool.session import serve_session
from gempool.keypool.testing import Harness

from .test_servicer import KEYS, with_keys

Call: TypeAlias = grpc.aio.StreamStreamCall[pb.SessionRequest, pb.SessionResponse]


async def next_answer(call: Call) -> pb.SessionResponse:
    message = await call.read()
    assert isinstance(message, pb.SessionResponse), message  # not the end of the stream
    return message


async def test_a_session_multiplexes_leases_and_reports(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    call = keypool.stub.Session()
    assert (await next_answer(call)).accepts_batches, "the server's hello comes first"
    for i in range(1, 7):
        await call.write(pb.SessionRequest(id=i, lease=pb.LeaseRequest(model="gemini-2.5-flash")))
    answers = [await next_answer(call) for _ in range(6)]
    assert sorted(a.id for a in answers) == list(range(1, 7))
    assert Counter(a.lease.lease.key_id for a in answers) == dict.fromkeys(ids, 2)
    await call.write(
        pb.SessionRequest(id=7, report=pb.ReportRequest(key_id=ids[0], model="m", http_status=200))
    )
    answer = await next_answer(call)
    assert (answer.id, answer.report.verdict) == (7, pb.VERDICT_SUCCESS)
    await call.done_writing()


async def test_a_failing_request_answers_with_an_error_and_the_stream_goes_on() -> None:
    async def lease(request: pb.LeaseRequest) -> pb.LeaseResponse:
        if request.model == "boom":
            raise RuntimeError("store down")
        await asyncio.sleep(0.05 if request.model == "slow" else 0)
        return pb.LeaseResponse(lease=pb.Lease(key_id=request.model))

    async def report(_: pb.ReportRequest) -> pb.ReportResponse:
        return pb.ReportResponse(verdict=pb.VERDICT_SUCCESS)

    async def requests() -> AsyncIterator[pb.SessionRequest]:
        for i, model in enumerate(["slow", "boom", "fast"], start=1):
            yield pb.SessionRequest(id=i, lease=pb.LeaseRequest(model=model))

    hello, *answers = [a async for a in serve_session(requests(), lease, report)]
    assert hello.accepts_batches and hello.id == 0
    assert [a.id for a in answers] == [2, 3, 1], "answers come as they are ready, not in order"
    assert "store down" in answers[0].error and answers[1].lease.lease.key_id == "fast"


async def test_a_batch_of_requests_is_answered_by_id_in_batches(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    call = keypool.stub.Session()
    assert (await next_answer(call)).accepts_batches
    leases = [pb.SessionRequest(id=i, lease=pb.LeaseRequest(model="gemini-2.5-flash")) for i in range(1, 31)]
    report = pb.SessionRequest(id=31, report=pb.ReportRequest(key_id=ids[0], model="m", http_status=200))
    await call.write(pb.SessionRequest(batch=[*leases, report]))
    answers: list[pb.SessionResponse] = []
    while len(answers) < 31:
        message = await next_answer(call)
        answers += message.batch or [message]
    assert sorted(a.id for a in answers) == list(range(1, 32))
    assert Counter(a.lease.lease.key_id for a in answers if a.HasField("lease")) == dict.fromkeys(ids, 10)
    assert next(a for a in answers if a.id == 31).report.verdict == pb.VERDICT_SUCCESS
    await call.done_writing()
