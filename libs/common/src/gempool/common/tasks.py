"""Stopping background tasks: one way for every service."""

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def stop_tasks(*tasks: "asyncio.Task[Any] | None", patience: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until each has ended, whatever it raised.

    A task that turns the cancellation into an error and carries on (a gRPC call may report a
    cancel as a CANCELLED status) is cancelled again every ``patience`` seconds. Unlike
    ``suppress(CancelledError)`` around ``await task``, a cancellation of the caller itself is not
    swallowed.
    """
    pending = {t for t in tasks if t is not None and not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)
        if pending:
            log.info("tasks survived a cancel", extra={"tasks": sorted(t.get_name() for t in pending)})
