"""What only the Redis store promises: round trips."""

from collections.abc import Awaitable, Callable
from typing import Any

from gempool.keypool.store import RedisStore


async def test_a_batch_of_successes_is_one_round_trip(redis_store: RedisStore) -> None:
    await redis_store.success("warm", "m")  # loads the script
    sent: list[Any] = []
    execute: Callable[..., Awaitable[Any]] = redis_store.redis.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        sent.append(args[0])
        return await execute(*args, **options)

    redis_store.redis.execute_command = counting  # type: ignore[method-assign]
    await redis_store.success_many([(f"k{i}", "m") for i in range(300)])
    assert sent == ["EVALSHA"]
    live = await redis_store.live(["k0", "k299"])
    assert live["k0"].uses_last_minute == live["k299"].uses_last_minute == 1


async def test_a_lost_redis_state_is_noticed_by_the_lease_itself(redis_store: RedisStore) -> None:
    await redis_store.sync_rings(7, {"free": ["a", "b"]})
    await redis_store.redis.delete(
        *[k async for k in redis_store.redis.scan_iter(f"{redis_store.names.root}*")]
    )
    assert (await redis_store.lease("free", "m", [])).lost  # as after a restart of Redis
    assert (await redis_store.lease("free", "m", ["a"], retry=True)).lost
    assert await redis_store.sync_rings(7, {"free": ["a", "b"]})  # the same revision is written again
    assert (await redis_store.lease("free", "m", [])).key_id in {"a", "b"}
