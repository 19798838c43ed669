"""The local provider's folder does not grow without bound: LOCAL_IMAGE_MAX_AGE_HOURS and
LOCAL_IMAGE_MAX_TOTAL_MB, applied by a sweep at start and every SWEEP_INTERVAL seconds.

Every imagehost replica sweeps; deleting a file another replica just deleted is harmless.
"""

import asyncio
import logging
import time
from collections.abc import Callable

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import LocalStore
from gempool.imagehost.service import Metrics

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 300.0


async def sweep_once(local: LocalStore, live: LiveSettings, metrics: Metrics) -> int:
    max_age = live.LOCAL_IMAGE_MAX_AGE_HOURS * 3600
    max_bytes = int(live.LOCAL_IMAGE_MAX_TOTAL_MB * 1024 * 1024)
    if max_age <= 0 and max_bytes <= 0:
        return 0
    deleted = await asyncio.to_thread(local.sweep, max_age, max_bytes, time.time())
    if deleted:
        metrics.swept.inc(deleted)
        log.info("old local images deleted", extra={"files": deleted})
    return deleted


async def sweep_forever(local: LocalStore, live: Callable[[], LiveSettings], metrics: Metrics) -> None:
    while True:
        try:
            await sweep_once(local, live(), metrics)
        except OSError as exc:  # a folder that cannot be read now may be readable next time
            log.warning("local image sweep failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(SWEEP_INTERVAL)
