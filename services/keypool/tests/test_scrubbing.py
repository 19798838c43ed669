"""No whole key leaves the keypool: stored reasons, report answers, probe results, log lines."""

import logging

import pytest

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import key_id, mask
from gempool.common.logs import JsonFormatter
from gempool.fakegemini.errors import suspended
from gempool.keypool.listing import key_info
from gempool.keypool.records import KeyRecord
from gempool.keypool.store.base import Cooldown, KeyLive
from gempool.keypool.testing import Harness

from .test_servicer import report, with_keys

KEY = "AIzaSySusp0-abcdefghijklmnopqrstuvwxyz1"  # the fake upstream suspends AIzaSySusp... keys


async def test_a_suspended_keys_reason_is_stored_and_listed_masked(
    keypool: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    [kid] = await with_keys(keypool, [KEY])
    _, body = suspended(KEY)
    assert KEY.encode() in body  # Google's answer quotes the whole key
    with caplog.at_level(logging.WARNING, logger="gempool.keypool"):
        answer = await report(keypool, kid, 403, body)
    assert answer.verdict == pb.VERDICT_KEY_RETIRED
    assert KEY not in answer.reason and mask(KEY) in answer.reason
    [call] = keypool.fake.status_calls
    assert call.status == config_pb2.KEY_STATUS_RETIRED
    assert KEY not in call.reason and mask(KEY) in call.reason  # what the config service stores
    listed = await keypool.stub.ListKeys(pb.ListKeysRequest(state=pb.KEY_STATE_RETIRED))
    assert KEY not in listed.keys[0].reason and "CONSUMER_SUSPENDED" in listed.keys[0].reason
    [retired] = [r for r in caplog.records if r.getMessage() == "key retired"]
    line = JsonFormatter("keypool").format(retired)
    assert KEY not in str(retired.__dict__) and KEY not in line


async def test_a_probe_result_never_shows_the_whole_key(keypool: Harness) -> None:
    [kid] = await with_keys(keypool, [KEY])
    results = [r async for r in keypool.stub.VerifyKeys(pb.VerifyKeysRequest(key_ids=[kid]))]
    assert [r.ok for r in results] == [False]
    assert "suspended" in results[0].error and KEY not in results[0].error
    assert mask(KEY) in results[0].error


def test_a_listing_scrubs_reasons_stored_before_scrubbing_existed() -> None:
    """Reasons, last errors and cooldown reasons written by an older keypool still quote keys."""
    quoted = f"Consumer 'api_key:{KEY}' has been suspended."
    rec = KeyRecord(
        key_id=key_id(KEY),
        api_key=KEY,
        pool=pb.POOL_UNSPECIFIED,
        status=config_pb2.KEY_STATUS_RETIRED,
        reason=quoted,
    )
    live = KeyLive(failures=1, last_error=quoted, cooldowns=[Cooldown("m", 1.0, quoted)])
    info = key_info(rec, live)
    assert KEY not in str(info) and str(info).count(mask(KEY)) == 4  # masked, reason, last error, cooldown
