"""KeyPool over a store: how a batch of reports reaches the store."""

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.keypool.metrics import Metrics
from gempool.keypool.pool import KeyPool
from gempool.keypool.store import MemoryStore


class RecordingStore(MemoryStore):
    """A memory store that notes each success and failure call (one call: one Redis round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, ...]] = []

    async def success(self, key_id: str, model: str) -> None:
        self.calls.append(("success", key_id))
        await super().success(key_id, model)

    async def success_many(self, reports: Sequence[tuple[str, str]]) -> None:
        self.calls.append(("success_many", *(key_id for key_id, _ in reports)))
        await super().success_many(reports)

    async def failure(self, key_id: str, error: str) -> int:
        self.calls.append(("failure", key_id))
        return await super().failure(key_id, error)


class NoSink:
    async def set_status(self, key_id: str, status: int, reason: str) -> None:
        return None


def outcome(key_id: str, status: int) -> pb.ReportRequest:
    return pb.ReportRequest(key_id=key_id, model="m", http_status=status)


async def test_a_batch_sends_each_run_of_successes_in_one_call_and_failures_in_order() -> None:
    store = RecordingStore()
    pool = KeyPool(store, NoSink(), Metrics(CollectorRegistry()))
    batch = [outcome("a", 200), outcome("b", 200), outcome("c", 200), outcome("a", 502)]
    batch += [outcome("b", 200), outcome("a", 200), outcome("c", 502), outcome("c", 502)]
    await pool.report_many(batch)
    assert store.calls == [
        ("success_many", "a", "b", "c"),
        ("failure", "a"),
        ("success_many", "b", "a"),
        ("failure", "c"),
        ("failure", "c"),
    ]
    live = await store.live(["a", "b", "c"])
    assert [live[k].failures for k in "abc"] == [0, 0, 2]
    assert [live[k].uses_last_minute for k in "abc"] == [2, 2, 1]
