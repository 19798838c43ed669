"""One contract, both stores: what a lease and a report do to the pool, as users see it."""

import asyncio
from collections import Counter
from collections.abc import Callable

from gempool.keypool.store import Store
from gempool.keypool.store.base import PROVEN_LOOKAHEAD

RING = "free"
IDS = [f"k{i}" for i in range(5)]


async def ring(store: Store, ids: list[str] = IDS, revision: int = 1) -> None:
    assert await store.sync_rings(revision, {RING: ids})


async def lease_many(
    store: Store, n: int, model: str = "m", exclude: tuple[str, ...] = (), retry: bool = False
) -> list[str | None]:
    return [(await store.lease(RING, model, exclude, retry)).key_id for _ in range(n)]


async def retries(
    store: Store, n: int, model: str = "m", exclude: tuple[str, ...] = ("k0",)
) -> list[str | None]:
    """Leases of requests that already failed on ``exclude``."""
    return await lease_many(store, n, model, exclude, retry=True)


async def test_round_robin_visits_every_key_in_turn(store: Store) -> None:
    await ring(store)
    picks = await lease_many(store, 50)
    assert picks[:5] == IDS and picks[5:10] == IDS
    assert set(Counter(picks).values()) == {10}


async def test_cooldown_is_per_model(store: Store) -> None:
    await ring(store)
    await store.cool("k1", "pro", 60, "rate limited")
    assert "k1" not in await lease_many(store, 20, "pro")
    assert Counter(await lease_many(store, 20, "flash"))["k1"] == 4


async def test_cooling_keys_do_not_skew_rotation(store: Store) -> None:
    await ring(store)
    await store.cool("k0", "m", 60, "rate limited")
    await store.cool("k1", "m", 60, "rate limited")
    assert set(Counter(await lease_many(store, 30)).values()) == {10}


async def test_excluded_keys_are_avoided_until_nothing_else_is_eligible(store: Store) -> None:
    await ring(store)
    assert "k2" not in await lease_many(store, 20, exclude=("k2",))
    for key in ("k0", "k1", "k3", "k4"):
        await store.cool(key, "m", 60, "rate limited")
    assert (await store.lease(RING, "m", ["k2"])).key_id == "k2"


async def test_exhausted_names_the_earliest_cooldown_end(store: Store) -> None:
    await ring(store, ["a", "b", "c"])
    for key, seconds in (("a", 30), ("b", 5), ("c", 90)):
        await store.cool(key, "m", seconds, "rate limited")
    pick = await store.lease(RING, "m", [])
    assert pick.key_id is None and pick.cooling == 3
    assert 4 < pick.retry_after <= 5
    again = await store.lease(RING, "m", [])  # answered from the exhaustion hint
    assert again.key_id is None and 4 < again.retry_after <= 5


async def test_a_key_comes_back_when_its_cooldown_ends(store: Store) -> None:
    await ring(store, ["a"])
    await store.cool("a", "m", 0.2, "rate limited")
    assert (await store.lease(RING, "m", [])).key_id is None
    await asyncio.sleep(0.3)
    assert (await store.lease(RING, "m", [])).key_id == "a"


async def test_a_longer_running_cooldown_is_not_shortened(store: Store) -> None:
    await ring(store, ["a"])
    await store.cool("a", "m", 3600, "daily quota")
    await store.cool("a", "m", 0.1, "rate limited")
    await asyncio.sleep(0.2)
    pick = await store.lease(RING, "m", [])
    assert pick.key_id is None and pick.retry_after > 3000
    [cooldown] = (await store.live(["a"]))["a"].cooldowns
    assert cooldown.reason == "daily quota"


async def test_retired_key_is_never_leased_for_any_model(store: Store) -> None:
    await ring(store)
    assert await store.retire("k3", "API_KEY_INVALID")
    assert not await store.retire("k3", "again")
    for model in ("pro", "flash"):
        assert "k3" not in await lease_many(store, 12, model)
    assert (await store.retired_marks())["k3"].reason == "API_KEY_INVALID"


async def test_no_key_at_all_is_exhausted_without_a_wait(store: Store) -> None:
    await ring(store, ["a"])
    await store.retire("a", "bad")
    assert await store.lease(RING, "m", []) == (await store.lease("paid", "m", []))
    pick = await store.lease(RING, "m", [])
    assert pick.key_id is None and pick.retry_after == 0 and pick.cooling == 0


async def test_clear_restores_retired_and_cooling_keys(store: Store) -> None:
    await ring(store, ["a", "b"])
    await store.retire("a", "bad")
    await store.cool("b", "m", 60, "rate limited")
    await store.failure("b", "500")
    assert (await store.lease(RING, "m", [])).key_id is None
    await store.clear(["a", "b"])
    assert sorted(await lease_many(store, 2), key=str) == ["a", "b"]
    live = await store.live(["a", "b"])
    assert live["a"].retired is None and live["b"].cooldowns == [] and live["b"].failures == 0


async def test_failures_are_consecutive_and_success_resets_them(store: Store) -> None:
    assert [await store.failure("a", "502") for _ in range(3)] == [1, 2, 3]
    await store.success("a", "m")
    assert await store.failure("a", "timeout") == 1
    live = (await store.live(["a"]))["a"]
    assert live.failures == 1 and live.last_error == "timeout" and live.uses_last_minute == 1


async def test_uses_are_counted_per_key(store: Store) -> None:
    for _ in range(3):
        await store.success("a", "m")
    await store.success("b", "other")
    live = await store.live(["a", "b", "c"])
    assert [(live[k].uses_last_minute, live[k].uses_last_day) for k in "abc"] == [(3, 3), (1, 1), (0, 0)]


async def test_concurrent_leases_stay_fair(store: Store) -> None:
    ids = [f"c{i}" for i in range(10)]
    await ring(store, ids)
    picks = await asyncio.gather(*(store.lease(RING, "m", []) for _ in range(200)))
    assert Counter(p.key_id for p in picks) == dict.fromkeys(ids, 20)


async def test_concurrent_leases_skip_cooling_and_retired_keys_and_stay_fair(store: Store) -> None:
    await ring(store)
    await store.cool("k1", "m", 60, "rate limited")
    await store.retire("k3", "bad")
    picks = await asyncio.gather(*(store.lease(RING, "m", []) for _ in range(150)))
    assert Counter(p.key_id for p in picks) == {"k0": 50, "k2": 50, "k4": 50}


async def test_concurrent_leases_when_every_key_cools_all_name_the_wait(store: Store) -> None:
    await ring(store)
    for key in IDS:
        await store.cool(key, "m", 30 + IDS.index(key), "rate limited")
    picks = await asyncio.gather(*(store.lease(RING, "m", []) for _ in range(40)))
    assert {p.key_id for p in picks} == {None}
    assert all(29 < p.retry_after <= 30 for p in picks)


async def test_concurrent_leases_of_two_replicas_share_one_rotation(make_store: Callable[[], Store]) -> None:
    one, two = make_store(), make_store()
    await ring(one)
    picks = await asyncio.gather(*(s.lease(RING, "m", []) for _ in range(50) for s in (one, two)))
    assert Counter(p.key_id for p in picks) == dict.fromkeys(IDS, 20)


async def test_an_older_ring_revision_does_not_overwrite_a_newer_one(store: Store) -> None:
    await ring(store, ["new"], revision=5)
    assert not await store.sync_rings(4, {RING: ["old"]})
    assert (await store.lease(RING, "m", [])).key_id == "new"


async def test_replicas_share_rotation_cooldowns_and_retirement(make_store: Callable[[], Store]) -> None:
    one, two = make_store(), make_store()
    await ring(one)
    picks = []
    for _ in range(5):
        picks += [(await one.lease(RING, "m", [])).key_id, (await two.lease(RING, "m", [])).key_id]
    assert Counter(picks) == dict.fromkeys(IDS, 2)
    await one.retire("k0", "bad")
    await one.cool("k1", "m", 60, "rate limited")
    assert {"k0", "k1"}.isdisjoint(await lease_many(two, 10))
    await two.clear(["k0", "k1"])
    assert {"k0", "k1"} <= set(await lease_many(one, 5))


async def test_one_replica_claims_a_periodic_job_per_interval(make_store: Callable[[], Store]) -> None:
    one, two = make_store(), make_store()
    assert await one.claim("prober", 0.3)
    assert not await two.claim("prober", 0.3) and not await one.claim("prober", 0.3)
    await asyncio.sleep(0.05)
    assert await two.claim("prober", 0.02)  # a shorter interval applies at once
    await asyncio.sleep(0.35)
    assert await one.claim("prober", 0.3)


async def test_check_answers_for_one_key_without_rotating(store: Store) -> None:
    await ring(store)
    await store.cool("k1", "m", 30, "rate limited")
    await store.retire("k2", "bad")
    assert (await store.check("k0", "m")).key_id == "k0"
    cooling = await store.check("k1", "m")
    assert cooling.key_id is None and 29 < cooling.retry_after <= 30
    assert (await store.check("k1", "other")).key_id == "k1"
    assert await store.check("k2", "m") == type(cooling)(None)
    assert await lease_many(store, 2) == ["k0", "k3"]  # checking rotated nothing


# ---- retries prefer keys proven for the model; first attempts stay plain round robin


async def test_a_retry_prefers_keys_that_succeeded_for_the_model(store: Store) -> None:
    await ring(store)
    await store.success("k3", "m")
    await store.success("k1", "other")
    assert await retries(store, 3) == ["k3", "k3", "k3"]
    assert await retries(store, 3, model="other") == ["k1", "k1", "k1"]
    assert await retries(store, 2, exclude=("k0", "k3")) == ["k4", "k1"], "none proven: plain rotation"


async def test_retries_rotate_over_proven_keys_and_leave_first_attempts_alone(store: Store) -> None:
    await ring(store)
    for key in ("k1", "k3"):
        await store.success(key, "m")
    firsts, again = [], []
    for _ in range(5):
        firsts += await lease_many(store, 1)
        again += await retries(store, 1)
    assert firsts == IDS, "retries do not move the first attempts' round robin"
    assert again == ["k1", "k3", "k1", "k3", "k1"]


async def test_a_key_back_from_a_cooldown_is_on_probation_for_retries(store: Store) -> None:
    await ring(store)
    for key in ("k2", "k4"):
        await store.success(key, "m")
    await store.cool("k2", "m", 0.2, "rate limited")
    await store.success("k2", "m")  # began before the 429: changes nothing
    await asyncio.sleep(0.3)
    assert await retries(store, 3) == ["k4", "k4", "k4"]
    assert "k2" in await lease_many(store, 5), "first attempts still try it"
    await store.success("k2", "m")
    assert set(await retries(store, 4)) == {"k2", "k4"}


async def test_a_retry_looks_a_bounded_way_past_the_first_eligible_key(store: Store) -> None:
    ids = [f"k{i:03d}" for i in range(PROVEN_LOOKAHEAD + 3)]
    await ring(store, ids)
    await store.success(ids[PROVEN_LOOKAHEAD + 2], "m")  # beyond the lookahead from k001
    assert await retries(store, 1, exclude=("k000",)) == ["k001"]
    await store.success(ids[PROVEN_LOOKAHEAD + 1], "m")  # the furthest a retry from k002 looks
    assert await retries(store, 1, exclude=("k000",)) == [ids[PROVEN_LOOKAHEAD + 1]]


async def test_success_many_applies_each_report_in_one_call(store: Store) -> None:
    await ring(store)
    for _ in range(2):
        await store.failure("k1", "502")
    await store.success_many([("k1", "m"), ("k2", "m"), ("k1", "other"), ("k2", "m")])
    await store.success_many([])
    live = await store.live(["k1", "k2", "k3"])
    assert [(live[k].uses_last_minute, live[k].failures) for k in live] == [(2, 0), (2, 0), (0, 0)]
    assert await retries(store, 2) == ["k1", "k2"]
    assert await retries(store, 2, model="other") == ["k1", "k1"]


# ---- repeated rate limits back off


async def test_a_key_rate_limited_again_on_probation_cools_twice_as_long_up_to_a_cap(store: Store) -> None:
    await ring(store, ["a"])
    assert await store.cool("a", "m", 0.2, "rate limited", backoff_cap=0.5) == 0.2
    await asyncio.sleep(0.3)  # the cooldown ended 0.1 s ago: on probation for 0.2 s
    assert await store.cool("a", "m", 0.2, "rate limited", backoff_cap=0.5) == 0.4
    pick = await store.lease(RING, "m", [])
    assert pick.key_id is None and 0.3 < pick.retry_after <= 0.4
    await asyncio.sleep(0.5)
    assert await store.cool("a", "m", 0.2, "rate limited", backoff_cap=0.5) == 0.5
    assert await store.cool("a", "other", 0.2, "rate limited", backoff_cap=0.5) == 0.2, "per model"


async def test_backoff_never_shortens_what_google_asked(store: Store) -> None:
    await ring(store, ["a"])
    await store.cool("a", "m", 0.2, "rate limited", backoff_cap=0.3)
    await asyncio.sleep(0.3)
    assert await store.cool("a", "m", 1.5, "rate limited", backoff_cap=0.3) == 1.5


async def test_backoff_is_forgotten_after_probation_a_success_or_a_reset(store: Store) -> None:
    await ring(store, ["a"])
    cap = {"backoff_cap": 10.0}
    await store.cool("a", "m", 0.1, "rate limited", **cap)
    await asyncio.sleep(0.35)  # probation (0.1 s after the end) is over
    assert await store.cool("a", "m", 0.2, "rate limited", **cap) == 0.2
    await asyncio.sleep(0.3)
    await store.success("a", "m")
    assert await store.cool("a", "m", 0.2, "rate limited", **cap) == 0.2
    await asyncio.sleep(0.3)
    await store.clear(["a"])
    assert await store.cool("a", "m", 0.2, "rate limited", **cap) == 0.2


async def test_a_cooldown_without_a_cap_neither_backs_off_nor_starts_a_backoff(store: Store) -> None:
    await ring(store, ["a"])
    await store.cool("a", "m", 0.2, "daily quota")
    await asyncio.sleep(0.3)
    assert await store.cool("a", "m", 0.2, "rate limited", backoff_cap=10) == 0.2
    await asyncio.sleep(0.3)
    assert await store.cool("a", "m", 0.2, "daily quota") == 0.2


async def test_a_late_report_during_a_cooldown_does_not_back_off(store: Store) -> None:
    await ring(store, ["a"])
    await store.cool("a", "m", 0.2, "rate limited", backoff_cap=10)
    await asyncio.sleep(0.3)
    assert await store.cool("a", "m", 0.2, "rate limited", backoff_cap=10) == 0.4
    running = await store.cool("a", "m", 0.2, "rate limited", backoff_cap=10)  # same episode
    assert 0.3 < running <= 0.4
    assert 0.3 < (await store.lease(RING, "m", [])).retry_after <= 0.4


async def test_a_store_without_rings_says_so_on_lease(store: Store) -> None:
    assert not await store.intact()
    assert (await store.lease(RING, "m", [])).lost
    await ring(store, [])  # an empty pool is not a lost one
    assert await store.intact()
    pick = await store.lease(RING, "m", [])
    assert pick.key_id is None and not pick.lost
    await ring(store, IDS, revision=2)
    assert not (await store.lease(RING, "m", [])).lost


async def test_kept_status_changes_come_back_in_order_the_latest_per_key(store: Store) -> None:
    await store.keep_status("a", 3, "invalid")
    await store.keep_status("b", 3, "leaked | reported")
    await store.keep_status("a", 1, "probe answered")  # replaces a's retirement
    kept = await store.kept_statuses()
    assert [(c.key_id, c.status, c.reason) for c in kept] == [
        ("b", 3, "leaked | reported"),
        ("a", 1, "probe answered"),
    ]


async def test_a_delivered_change_is_dropped_unless_a_later_one_replaced_it(store: Store) -> None:
    first = await store.keep_status("a", 3, "invalid")
    other = await store.keep_status("b", 3, "invalid")
    await store.keep_status("a", 1, "restored")
    await store.drop_status(first)  # delivered, but a later change of "a" waits
    await store.drop_status(other)
    assert [(c.key_id, c.status) for c in await store.kept_statuses()] == [("a", 1)]


async def test_replicas_share_the_kept_changes(make_store: Callable[[], Store]) -> None:
    one, two = make_store(), make_store()
    change = await one.keep_status("a", 3, "invalid")
    assert await two.kept_statuses() == [change]
    await two.drop_status(change)
    assert await one.kept_statuses() == []


async def test_two_replicas_taking_turns_continue_one_rotation(make_store: Callable[[], Store]) -> None:
    # One counter in Redis, not one per replica: A, B, A, B ... walks the ring once, in order.
    one, two = make_store(), make_store()
    await ring(one)
    picks = [(await (one if i % 2 == 0 else two).lease(RING, "m", [])).key_id for i in range(12)]
    assert picks == IDS + IDS + IDS[:2]


async def test_concurrent_leases_of_two_replicas_hold_each_key_once_per_turn(
    make_store: Callable[[], Store],
) -> None:
    # A read-then-write rotation hands one key to two leases that race; an atomic one cannot.
    one, two = make_store(), make_store()
    await ring(one)
    for turn in range(20):
        stores = [one, two] * 3
        picks = await asyncio.gather(*(s.lease(RING, "m", []) for s in stores[turn % 2 : turn % 2 + 5]))
        assert sorted(p.key_id or "" for p in picks) == IDS, turn
