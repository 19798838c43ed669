"""LOCAL_IMAGE_MAX_AGE_HOURS and LOCAL_IMAGE_MAX_TOTAL_MB: the local folder is swept."""

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import LocalStore
from gempool.imagehost.retention import sweep_once
from gempool.imagehost.service import Metrics

HOUR = 3600.0


def store_with(tmp_path: Path, ages_and_sizes: dict[str, tuple[float, int]]) -> LocalStore:
    """Files named as given, each ``age`` hours old and ``size`` bytes long."""
    local = LocalStore(tmp_path, "")
    local.prepare()
    now = time.time()
    for name, (age, size) in ages_and_sizes.items():
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age * HOUR, now - age * HOUR))
    return local


def left(tmp_path: Path) -> set[str]:
    return {p.name for p in tmp_path.iterdir()}


async def test_files_older_than_the_age_limit_go(tmp_path: Path) -> None:
    local = store_with(tmp_path, {"old.png": (30, 10), "new.png": (1, 10), ".x.png.part": (99, 10)})
    registry = CollectorRegistry()
    live = LiveSettings(LOCAL_IMAGE_MAX_AGE_HOURS=24, LOCAL_IMAGE_MAX_TOTAL_MB=0)
    assert await sweep_once(local, live, Metrics(registry)) == 1
    assert left(tmp_path) == {"new.png", ".x.png.part"}  # a file being written is never swept
    assert registry.get_sample_value("gempool_imagehost_swept_files_total") == 1


async def test_the_oldest_go_until_the_folder_is_under_its_size(tmp_path: Path) -> None:
    mib = 1024 * 1024
    local = store_with(tmp_path, {"a.png": (3, mib), "b.png": (2, mib), "c.png": (1, mib)})
    live = LiveSettings(LOCAL_IMAGE_MAX_AGE_HOURS=0, LOCAL_IMAGE_MAX_TOTAL_MB=2)
    assert await sweep_once(local, live, Metrics(CollectorRegistry())) == 1
    assert left(tmp_path) == {"b.png", "c.png"}


async def test_zero_limits_keep_everything(tmp_path: Path) -> None:
    local = store_with(tmp_path, {"a.png": (9999, 10)})
    live = LiveSettings(LOCAL_IMAGE_MAX_AGE_HOURS=0, LOCAL_IMAGE_MAX_TOTAL_MB=0)
    assert await sweep_once(local, live, Metrics(CollectorRegistry())) == 0
    assert left(tmp_path) == {"a.png"}
