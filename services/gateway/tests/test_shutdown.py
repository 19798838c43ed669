"""The drain: SIGTERM makes the gateway stop being ready at once and still lets uvicorn stop it; the
grace's end cancels only the requests in flight, with a cancellation they can tell apart."""

import asyncio
import signal
from types import FrameType

import pytest

from gempool.gateway.shutdown import STOP, Drain, is_stop


async def test_sigterm_begins_the_drain_and_reaches_the_previous_handler() -> None:
    seen: list[int] = []

    def uvicorns(signum: int, _: FrameType | None) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, uvicorns)
    try:
        drain = Drain(grace=30)
        restore = drain.on_signals()
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)  # begin() runs on the loop
        assert drain.stopping and seen == [signal.SIGTERM]
        restore()
        assert signal.getsignal(signal.SIGTERM) is uvicorns
        drain.close()
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_the_grace_end_cancels_tracked_requests_with_its_own_message() -> None:
    drain = Drain(grace=0.05)
    outcomes: dict[str, str] = {}

    async def request(name: str, tracked: bool) -> None:
        task = drain.track() if tracked else None
        try:
            await asyncio.sleep(5)
            outcomes[name] = "finished"
        except asyncio.CancelledError as exc:
            outcomes[name] = "stopped" if is_stop(exc) else "cancelled"
            raise
        finally:
            drain.untrack(task)

    tracked = asyncio.create_task(request("tracked", True))
    untracked = asyncio.create_task(request("untracked", False))
    await asyncio.sleep(0)
    drain.begin()
    with pytest.raises(asyncio.CancelledError):
        await tracked
    assert outcomes == {"tracked": "stopped"} and drain.expired and not drain.tasks
    untracked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await untracked
    assert outcomes["untracked"] == "cancelled"


def test_only_the_drains_cancellation_is_a_stop() -> None:
    assert is_stop(asyncio.CancelledError(STOP))
    assert not is_stop(asyncio.CancelledError()) and not is_stop(asyncio.CancelledError("other"))
