"""The overview's warnings: pure functions over the keys as the keypool lists them."""

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.admin.overview import key_warnings

NOW = 1_800_000_000.0


def key(
    n: int,
    state: kp.KeyState.ValueType = kp.KEY_STATE_ACTIVE,
    cooling: tuple[str, ...] = (),
    retired_at: float = 0,
) -> kp.KeyInfo:
    cooldowns = [kp.Cooldown(model=m, until_unix=NOW + 60 + n, reason="rate limited") for m in cooling]
    return kp.KeyInfo(key_id=f"k{n}", state=state, cooldowns=cooldowns, retired_at_unix=retired_at)


def test_a_model_every_usable_key_cools_for_is_named_with_the_earliest_end() -> None:
    keys = [
        key(1, kp.KEY_STATE_COOLING, ("gemini-2.5-pro", "gemini-2.5-flash")),
        key(2, kp.KEY_STATE_COOLING, ("gemini-2.5-pro",)),
    ]
    keys.append(key(3, kp.KEY_STATE_DISABLED))  # disabled keys are not counted as usable
    [warning] = key_warnings(keys, NOW)
    assert warning.kind == "all_cooling"
    assert warning.params == {"pool": "free", "model": "gemini-2.5-pro", "keys": 2, "until": NOW + 61}
    assert key_warnings([*keys, key(4)], NOW) == [], "one key still serves gemini-2.5-pro"


def test_many_retirements_within_the_hour_are_a_warning() -> None:
    recent = [key(n, kp.KEY_STATE_RETIRED, retired_at=NOW - 600) for n in range(3)]
    old = [key(n, kp.KEY_STATE_RETIRED, retired_at=NOW - 7200) for n in range(3, 9)]
    [warning] = key_warnings([*recent, *old, key(10)], NOW)
    assert warning.kind == "retired_recently" and warning.params == {"count": 3}
    assert key_warnings([*recent[:2], *old], NOW) == []
