"""KeyPoolService end to end in-process: a real server, a real fake ConfigService, the generated stub."""

import asyncio
import json
from collections import Counter
from typing import TypedDict, Unpack

import pytest

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import key_id, mask
from gempool.keypool import upstream
from gempool.keypool.testing import Harness, eventually

INVALID_KEY = json.dumps(
    {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        }
    }
).encode()
RATE_LIMITED = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "39s"}],
        }
    }
).encode()
RATE_LIMITED_1S = RATE_LIMITED.replace(b'"39s"', b'"1s"')
KEYS = [f"AIzaSyTest{i:02d}-abcdefghijklmnopqrstu" for i in range(3)]


class LeaseOptions(TypedDict, total=False):
    """The LeaseRequest fields a test may set besides the model."""

    pool: pb.Pool.ValueType
    exclude_key_ids: list[str]
    tag: str
    want_key_id: str


class KeyOptions(TypedDict, total=False):
    """What FakeConfig.add_keys takes besides the keys."""

    kind: config_pb2.KeyKind.ValueType
    tags: list[str]
    status: config_pb2.KeyStatus.ValueType


async def lease(kp: Harness, model: str = "gemini-2.5-flash", **kw: Unpack[LeaseOptions]) -> pb.LeaseResponse:
    return await kp.stub.Lease(pb.LeaseRequest(model=model, **kw))


async def report(
    kp: Harness, kid: str, status: int, body: bytes = b"", model: str = "gemini-2.5-flash"
) -> pb.ReportResponse:
    return await kp.stub.Report(
        pb.ReportRequest(key_id=kid, model=model, http_status=status, error_body=body)
    )


async def leased_ids(
    kp: Harness, n: int, model: str = "gemini-2.5-flash", **kw: Unpack[LeaseOptions]
) -> list[str]:
    return [(await lease(kp, model, **kw)).lease.key_id for _ in range(n)]


async def with_keys(kp: Harness, api_keys: list[str], **kw: Unpack[KeyOptions]) -> list[str]:
    """Add keys in the config service and wait until the keypool leases from them."""
    ids = kp.fake.add_keys(api_keys, **kw)

    async def loaded() -> bool:
        listed = await kp.stub.ListKeys(pb.ListKeysRequest(page_size=1000))
        return {k.key_id for k in listed.keys} >= set(ids)

    await eventually(loaded)
    return ids


async def test_leases_rotate_and_carry_the_secret(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    got = [(await lease(keypool)).lease for _ in range(6)]
    assert Counter(g.key_id for g in got) == dict.fromkeys(ids, 2)
    assert all(key_id(g.api_key) == g.key_id for g in got)
    verdict = await report(keypool, got[0].key_id, 200)
    assert (verdict.verdict, verdict.retry) == (pb.VERDICT_SUCCESS, False)
    listed = await keypool.stub.ListKeys(pb.ListKeysRequest())
    uses = {k.key_id: k.uses_last_minute for k in listed.keys}
    assert uses[got[0].key_id] == 1 and listed.total == 3
    assert all(k.masked.startswith("AIza...") and k.state == pb.KEY_STATE_ACTIVE for k in listed.keys)


async def test_an_invalid_key_is_retired_durably_and_never_leased_again(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    answer = await report(keypool, ids[1], 400, INVALID_KEY)
    assert (answer.verdict, answer.retry) == (pb.VERDICT_KEY_RETIRED, True)
    assert ids[1] not in await leased_ids(keypool, 9)
    [call] = keypool.fake.status_calls
    assert (call.key_id, call.status) == (ids[1], config_pb2.KEY_STATUS_RETIRED)
    assert "API_KEY_INVALID" in call.reason
    retired = await keypool.stub.ListKeys(pb.ListKeysRequest(state=pb.KEY_STATE_RETIRED))
    assert [k.key_id for k in retired.keys] == [ids[1]] and "API_KEY_INVALID" in retired.keys[0].reason


async def test_a_rate_limit_cools_the_key_for_that_model_only(keypool: Harness) -> None:
    [kid] = await with_keys(keypool, KEYS[:1])
    answer = await report(keypool, kid, 429, RATE_LIMITED, model="gemini-2.5-pro")
    assert (answer.verdict, answer.retry, answer.cooldown_seconds) == (pb.VERDICT_KEY_COOLING, True, 39.0)
    exhausted = (await lease(keypool, model="gemini-2.5-pro")).exhausted
    assert 38 < exhausted.retry_after_seconds <= 39 and "cool" in exhausted.message
    assert (await lease(keypool, model="gemini-2.5-flash")).lease.key_id == kid
    [info] = (await keypool.stub.ListKeys(pb.ListKeysRequest(state=pb.KEY_STATE_COOLING))).keys
    assert [c.model for c in info.cooldowns] == ["gemini-2.5-pro"]
    assert keypool.fake.status_calls == []


async def test_rate_limits_never_count_toward_max_failures(keypool: Harness) -> None:
    [kid] = await with_keys(keypool, KEYS[:1])  # MAX_FAILURES is 3
    for _ in range(3 + 2):
        answer = await report(keypool, kid, 429, RATE_LIMITED)
        # still worth another key: the 429s did not count as failures of the way to Google either
        assert (answer.verdict, answer.retry) == (pb.VERDICT_KEY_COOLING, True)
    [info] = (await keypool.stub.ListKeys(pb.ListKeysRequest())).keys
    assert (info.state, info.consecutive_failures) == (pb.KEY_STATE_COOLING, 0)
    assert keypool.fake.status_calls == []  # nothing was persisted as retired


async def test_server_errors_and_transport_failures_never_retire_a_key(keypool: Harness) -> None:
    a, b = await with_keys(keypool, KEYS[:2])
    for _ in range(5):
        assert (await report(keypool, a, 503)).verdict == pb.VERDICT_TRANSIENT
        assert (await report(keypool, b, 500)).verdict == pb.VERDICT_TRANSIENT
        refused = pb.ReportRequest(key_id=b, model="m", transport=pb.TRANSPORT_CONNECT_ERROR)
        assert (await keypool.stub.Report(refused)).verdict == pb.VERDICT_TRANSIENT
    assert set(await leased_ids(keypool, 4)) == {a, b}
    assert keypool.fake.status_calls == []


async def test_one_success_resets_the_failure_count(keypool: Harness) -> None:
    [kid] = await with_keys(keypool, KEYS[:1])
    for status in (500, 502, 200, 504, 500):
        await report(keypool, kid, status)
    assert (await lease(keypool)).lease.key_id == kid


async def test_no_key_at_all_is_exhausted_with_no_wait(keypool: Harness) -> None:
    exhausted = (await lease(keypool)).exhausted
    assert exhausted.retry_after_seconds == 0 and "no active key" in exhausted.message


async def test_paid_and_tagged_keys_stay_in_their_pools(keypool: Harness) -> None:
    free = await with_keys(keypool, KEYS[:2], tags=["eu"])
    [paid] = await with_keys(keypool, ["AIzaSyPaid-0123456789abcdefgh"], kind=config_pb2.KEY_KIND_PAID)
    assert set(await leased_ids(keypool, 6)) == set(free)
    assert set(await leased_ids(keypool, 3, pool=pb.POOL_PAID)) == {paid}
    assert set(await leased_ids(keypool, 4, tag="eu")) == set(free)
    assert (await lease(keypool, tag="us")).exhausted.retry_after_seconds == 0


async def test_settings_changes_apply_live(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    assert (await lease(keypool)).lease.proxy == ""
    proxies = ["http://p1:3128", "http://p2:3128", "socks5://p3:1080"]
    keypool.fake.update({"PROXIES": json.dumps(proxies), "MAX_FAILURES": "1"})

    async def proxied() -> bool:
        return (await lease(keypool)).lease.proxy in proxies

    await eventually(proxied)
    first = {g.lease.key_id: g.lease.proxy for g in [await lease(keypool) for _ in range(6)]}
    again = {g.lease.key_id: g.lease.proxy for g in [await lease(keypool) for _ in range(6)]}
    assert first == again  # one proxy per key (consistent hashing is the default)
    # MAX_FAILURES=1: one connection error and the route is down; the request stops retrying
    refused = pb.ReportRequest(
        key_id=ids[0], model="m", transport=pb.TRANSPORT_CONNECT_ERROR, proxy=proxies[0]
    )
    assert not (await keypool.stub.Report(refused)).retry


async def test_reset_restores_retired_and_cooling_keys(keypool: Harness) -> None:
    a, b = await with_keys(keypool, KEYS[:2])
    await report(keypool, a, 400, INVALID_KEY)
    await report(keypool, b, 429, RATE_LIMITED)
    assert (await lease(keypool)).HasField("exhausted")
    assert (await keypool.stub.ResetKeys(pb.ResetKeysRequest())).reset == 2
    assert sorted(await leased_ids(keypool, 2)) == sorted([a, b])
    assert keypool.fake.status_calls[-1].status == config_pb2.KEY_STATUS_ACTIVE
    assert keypool.fake.records[a].status == config_pb2.KEY_STATUS_ACTIVE


async def test_verify_streams_progress_and_restores_keys_that_answer(
    keypool: Harness, good_keys: set[str]
) -> None:
    ids = await with_keys(keypool, KEYS)
    for kid in ids[:2]:
        await report(keypool, kid, 403, b"")
    good_keys.add(KEYS[0])
    progress = [p async for p in keypool.stub.VerifyKeys(pb.VerifyKeysRequest())]
    assert sorted(p.done for p in progress) == [1, 2] and {p.total for p in progress} == {2}
    assert {p.key_id: p.ok for p in progress} == {ids[0]: True, ids[1]: False}
    request = keypool.upstream[0]
    assert request.url.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent"
    assert request.url.host == "generativelanguage.googleapis.com"
    assert ids[0] in await leased_ids(keypool, 4) and ids[1] not in await leased_ids(keypool, 4)


async def test_verify_retires_an_active_key_the_answer_condemns_and_says_why(
    keypool: Harness, good_keys: set[str]
) -> None:
    ids = await with_keys(keypool, KEYS[:2])
    good_keys.add(KEYS[0])
    progress = {p.key_id: p async for p in keypool.stub.VerifyKeys(pb.VerifyKeysRequest(key_ids=ids))}
    assert progress[ids[0]].ok and not progress[ids[0]].retired and not progress[ids[0]].error
    bad = progress[ids[1]]
    assert not bad.ok and bad.retired and bad.masked == mask(KEYS[1])
    assert "API key not valid" in bad.error and "400" in bad.error
    assert keypool.fake.records[ids[1]].status == config_pb2.KEY_STATUS_RETIRED
    assert "API key not valid" in keypool.fake.records[ids[1]].reason
    assert ids[1] not in await leased_ids(keypool, 4) and ids[0] in await leased_ids(keypool, 4)


async def test_the_background_prober_brings_a_key_back(keypool: Harness, good_keys: set[str]) -> None:
    [kid] = await with_keys(keypool, KEYS[:1])
    await report(keypool, kid, 401)
    assert (await lease(keypool)).HasField("exhausted")
    good_keys.add(KEYS[0])
    keypool.fake.update({"CHECK_INTERVAL_HOURS": "0.00002"})  # every 72 ms

    async def back() -> bool:
        return (await lease(keypool)).lease.key_id == kid

    await eventually(back)
    assert keypool.fake.records[kid].status == config_pb2.KEY_STATUS_ACTIVE


async def test_a_large_pool_lists_by_pages(keypool: Harness) -> None:
    ids = await with_keys(keypool, [f"AIzaSyPage{i:04d}-abcdefghijklmnop" for i in range(25)])
    seen, token, pages = [], "", 0
    while True:
        page = await keypool.stub.ListKeys(pb.ListKeysRequest(page_size=10, page_token=token))
        seen += [k.key_id for k in page.keys]
        pages, token = pages + 1, page.next_page_token
        assert page.total == 25
        if not token:
            break
    assert pages == 3 and seen == sorted(ids)


async def test_want_key_id_leases_that_key_or_says_why_not(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    assert set(await leased_ids(keypool, 5, want_key_id=ids[2])) == {ids[2]}
    await report(keypool, ids[2], 429, RATE_LIMITED, model="gemini-2.5-pro")
    cooling = (await lease(keypool, model="gemini-2.5-pro", want_key_id=ids[2])).exhausted
    assert 38 < cooling.retry_after_seconds <= 39
    assert (await lease(keypool, want_key_id=ids[2])).lease.key_id == ids[2], "other models still served"
    await report(keypool, ids[2], 400, INVALID_KEY)
    gone = (await lease(keypool, want_key_id=ids[2])).exhausted
    assert gone.retry_after_seconds == 0 and "no longer" in gone.message
    assert (await lease(keypool, want_key_id="unknown")).HasField("exhausted")


async def test_a_wanted_key_is_leased_only_when_it_can_serve(keypool: Harness) -> None:
    a, b = await with_keys(keypool, KEYS[:2])
    assert {(await lease(keypool, want_key_id=b)).lease.key_id for _ in range(3)} == {b}
    await report(keypool, b, 429, RATE_LIMITED)
    cooling = (await lease(keypool, want_key_id=b)).exhausted
    assert 38 < cooling.retry_after_seconds <= 39 and "cools" in cooling.message
    await report(keypool, a, 401)
    retired = (await lease(keypool, want_key_id=a)).exhausted
    assert retired.retry_after_seconds == 0 and "no longer in the pool" in retired.message
    assert "no longer in the pool" in (await lease(keypool, want_key_id="nope")).exhausted.message


async def test_a_retry_goes_to_a_key_that_just_served_the_model(keypool: Harness) -> None:
    ids = await with_keys(keypool, KEYS)
    assert await leased_ids(keypool, 3) == sorted(ids)
    await report(keypool, ids[2], 200)
    retry = await lease(keypool, exclude_key_ids=[ids[0]])
    assert retry.lease.key_id == ids[2], "not the next in rotation, the one that just answered"
    assert await leased_ids(keypool, 3) == sorted(ids), "first attempts keep their round robin"


async def test_a_key_rate_limited_again_after_its_cooldown_cools_twice_as_long(keypool: Harness) -> None:
    [kid] = await with_keys(keypool, KEYS[:1])
    assert (await report(keypool, kid, 429, RATE_LIMITED_1S)).cooldown_seconds == 1.0
    await asyncio.sleep(1.1)
    assert (await lease(keypool)).lease.key_id == kid
    assert (await report(keypool, kid, 429, RATE_LIMITED_1S)).cooldown_seconds == 2.0
    assert 1.5 < (await lease(keypool)).exhausted.retry_after_seconds <= 2.0


async def test_report_batch_applies_outcomes_in_order(keypool: Harness) -> None:
    a, b = await with_keys(keypool, KEYS[:2])
    ok = [pb.ReportRequest(key_id=kid, model="gemini-2.5-flash", http_status=200) for kid in (a, b)]
    fail = pb.ReportRequest(key_id=a, model="gemini-2.5-flash", http_status=500)
    batch = [fail, fail, ok[0], ok[1], fail, fail, ok[1]]  # a success in between resets the count
    accepted = await keypool.stub.ReportBatch(pb.ReportBatchRequest(reports=batch))
    assert accepted.accepted == 7 and keypool.fake.status_calls == []
    listed = {k.key_id: k for k in (await keypool.stub.ListKeys(pb.ListKeysRequest())).keys}
    assert (listed[a].consecutive_failures, listed[a].uses_last_minute) == (2, 1)
    assert (listed[b].consecutive_failures, listed[b].uses_last_minute) == (0, 2)
    await keypool.stub.ReportBatch(pb.ReportBatchRequest(reports=[ok[1], fail]))
    listed = {k.key_id: k for k in (await keypool.stub.ListKeys(pb.ListKeysRequest())).keys}
    assert listed[a].consecutive_failures == 3 and listed[a].state == pb.KEY_STATE_ACTIVE
    assert keypool.fake.status_calls == [], "failures that are not the key's never retire it"


async def test_probes_leave_through_each_keys_own_proxy_one_client_per_proxy(
    keypool: Harness, good_keys: set[str]
) -> None:
    api_keys = [f"AIzaSyProxy{i:02d}-abcdefghijklmnopqrs" for i in range(8)]
    ids = await with_keys(keypool, api_keys)
    proxies = ["http://p1:3128", "socks5://p2:1080", "http://p3:3128"]
    keypool.fake.update({"PROXIES": json.dumps(proxies)})

    async def proxied() -> bool:
        return (await lease(keypool)).lease.proxy in proxies

    await eventually(proxied)
    leased = {g.lease.key_id: g.lease.proxy for g in [await lease(keypool) for _ in range(8)]}
    assert set(leased) == set(ids) and len(set(leased.values())) > 1
    for kid in ids:
        await report(keypool, kid, 401)
    good_keys.update(api_keys[:4])
    progress = [p async for p in keypool.stub.VerifyKeys(pb.VerifyKeysRequest())]
    assert sum(p.ok for p in progress) == 4 and len(progress) == 8
    probed = {key_id(r.headers["x-goog-api-key"]): r.extensions.get("proxy") for r in keypool.upstream}
    assert probed == leased, "each probe goes out the way the key's requests do"
    assert {p: len(c) for p, c in keypool.proxy_clients.items()} == dict.fromkeys(set(leased.values()), 1)
    assert all(c.is_closed for clients in keypool.proxy_clients.values() for c in clients)


DAILY_QUOTA = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
            ],
        }
    }
).encode()


async def test_a_daily_quota_parks_every_key_of_the_same_project(keypool: Harness) -> None:
    same = await with_keys(keypool, KEYS[:2], tags=["project:alpha"])
    [other] = await with_keys(keypool, KEYS[2:], tags=["project:beta"])
    answer = await report(keypool, same[0], 429, DAILY_QUOTA, model="gemini-2.5-pro")
    assert answer.verdict == pb.VERDICT_KEY_COOLING and answer.cooldown_seconds > 20
    assert set(await leased_ids(keypool, 4, model="gemini-2.5-pro")) == {other}
    assert len(set(await leased_ids(keypool, 6, model="gemini-2.5-flash"))) == 3, "other models unaffected"


async def test_an_upstream_outage_stops_retries_blames_no_key_and_ends_with_one_answer(
    keypool: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upstream, "SETTLE_SECONDS", 0.0)  # no late reports here
    ids = await with_keys(keypool, KEYS)

    async def refused(kid: str, proxy: str = "") -> pb.ReportResponse:
        request = pb.ReportRequest(key_id=kid, model="m", transport=pb.TRANSPORT_CONNECT_ERROR, proxy=proxy)
        return await keypool.stub.Report(request)

    # MAX_FAILURES=3 failures in a row on the direct route, each on another key: the route is down
    assert [(await refused(kid)).retry for kid in ids] == [True, True, False]
    assert (await refused(ids[0], proxy="http://user:pw@p1:3128")).retry, "a proxy is a route of its own"
    proxy_502 = pb.ReportRequest(key_id=ids[1], model="m", http_status=502, error_body=b"<html>Bad Gateway")
    assert not (await keypool.stub.Report(proxy_502)).retry, "a 5xx without Google's error is the route's"
    assert set(await leased_ids(keypool, 6)) == set(ids) and keypool.fake.status_calls == []
    await keypool.stub.Report(pb.ReportRequest(key_id=ids[2], model="m", http_status=200))  # back
    assert (await refused(ids[0])).retry
