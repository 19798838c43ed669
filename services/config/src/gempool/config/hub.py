"""Fan-out of settings snapshots to Watch streams.

A snapshot is published after every change made through this process and whenever the revision
row moves (polled about once a second), which is how changes made by another replica or by the
``reset-admin-token`` command reach this replica's watchers.
"""

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from gempool.api.config.v1 import config_pb2
from gempool.common.tasks import stop_tasks
from gempool.config.metrics import Metrics
from gempool.config.revisions import Revisions

log = logging.getLogger(__name__)

Snapshot = config_pb2.SettingsSnapshot


def revisions_of(snapshot: Snapshot) -> Revisions:
    return Revisions(snapshot.revision, snapshot.keys_revision, snapshot.tokens_revision)


class Hub:
    def __init__(
        self,
        load: Callable[[], Awaitable[Snapshot]],
        read_revisions: Callable[[], Awaitable[Revisions]],
        metrics: Metrics,
        poll_seconds: float = 1.0,
        on_publish: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self._load, self._read_revisions = load, read_revisions
        self._metrics, self._poll_seconds = metrics, poll_seconds
        self._on_publish = on_publish
        self._changed = asyncio.Condition()
        self._loading = asyncio.Lock()
        self._closed = False
        self._poller: asyncio.Task[None] | None = None
        self.current = Snapshot()

    async def start(self) -> None:
        await self.refresh()
        self._poller = asyncio.create_task(self._poll(), name="config-revision-poll")

    async def close(self) -> None:
        """Stop polling and end every open stream (their clients reconnect elsewhere)."""
        await stop_tasks(self._poller)
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def refresh(self) -> None:
        """Load the snapshot and publish it if its revisions moved (loads run one at a time, in order)."""
        async with self._loading:
            snapshot = await self._load()
            if revisions_of(snapshot) == revisions_of(self.current):
                return
            async with self._changed:
                self.current = snapshot
                self._changed.notify_all()
        self._metrics.settings_revision.set(snapshot.revision)
        self._metrics.keys_revision.set(snapshot.keys_revision)
        if self._on_publish is not None:
            self._on_publish(snapshot)

    async def subscribe(self) -> AsyncIterator[Snapshot]:
        """The current snapshot at once, then each newer one, until the hub closes."""
        self._metrics.watchers.inc()
        try:
            sent = self.current
            yield sent
            while True:
                async with self._changed:
                    await self._changed.wait_for(functools.partial(self._moved_from, sent))
                    if self._closed:
                        return
                    sent = self.current
                yield sent
        finally:
            self._metrics.watchers.dec()

    def _moved_from(self, sent: Snapshot) -> bool:
        return self._closed or self.current is not sent

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                if await self._read_revisions() != revisions_of(self.current):
                    await self.refresh()
            except Exception as exc:  # a database hiccup must not end the poller
                log.warning("revision poll failed", extra={"error": repr(exc)})
