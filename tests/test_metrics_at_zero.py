"""Every service's labelled counters exist at zero for the label values known in advance, so the
first retirement, cooldown, dropped log or failed upload shows in rate() and increase(); and every
service exports gempool_build_info and process_*."""

import asyncio
import importlib.metadata
import platform
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from gempool.common.grpcserver import serve
from gempool.common.metrics import register_process_metrics
from gempool.config.metrics import Metrics as ConfigMetrics
from gempool.gateway.logs.ship import ShipperMetrics
from gempool.gateway.logs.spool import Spool
from gempool.imagehost.service import Metrics as ImageHostMetrics
from gempool.keypool.metrics import Metrics as KeyPoolMetrics

ZERO = [
    ("gempool_keypool_retirements_total", {"reason": "bad_key"}),
    ("gempool_keypool_retirements_total", {"reason": "max_failures"}),
    ("gempool_keypool_cooldowns_total", {"reason": "rate_limit"}),
    ("gempool_keypool_cooldowns_total", {"reason": "daily_quota"}),
    ("gempool_keypool_leases_total", {"pool": "free", "result": "cooling"}),
    ("gempool_keypool_leases_total", {"pool": "paid", "result": "empty"}),
    ("gempool_keypool_reports_total", {"verdict": "VERDICT_TRANSIENT", "kind": "timeout"}),
    ("gempool_keypool_keys", {"state": "retired"}),
    ("gempool_config_logs_stored_total", {"kind": "error"}),
    ("gempool_imagehost_uploads_total", {"provider": "smms", "result": "failed"}),
    ("gempool_gateway_logs_dropped_total", {"kind": "request"}),
    ("gempool_gateway_logs_shipped_total", {"kind": "error"}),
    ("gempool_gateway_logs_spool_dropped_total", {"kind": "request"}),
]


@pytest.fixture
def registry(tmp_path: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    KeyPoolMetrics(registry)
    ConfigMetrics(registry)
    ImageHostMetrics(registry)
    ShipperMetrics(registry, lambda: 0)
    Spool(tmp_path, 1 << 20, registry)
    return registry


@pytest.mark.parametrize(("name", "labels"), ZERO, ids=lambda x: str(x))
def test_known_label_values_start_at_zero(
    registry: CollectorRegistry, name: str, labels: dict[str, str]
) -> None:
    assert registry.get_sample_value(name, labels) == 0


@pytest.mark.parametrize("service", ["gateway", "keypool", "config", "imagehost"])
def test_build_info_and_process_metrics(service: str) -> None:
    registry = CollectorRegistry()
    register_process_metrics(registry, service)
    version = importlib.metadata.version(f"gempool-{service}")
    (labels,) = [s.labels for f in registry.collect() for s in f.samples if s.name == "gempool_build_info"]
    assert labels["service"] == service and labels["version"] == version
    assert (registry.get_sample_value("process_cpu_seconds_total") or 0) > 0
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0) > 0


async def test_grpc_services_register_them_when_they_serve() -> None:
    registry = CollectorRegistry()
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(
            name="keypool",
            host="127.0.0.1",
            port=0,
            metrics_port=-1,
            registry=registry,
            register=lambda _: None,
            grace=0,
            token="",  # loopback: no internal credential needed
            stop=stop,
            ready=lambda _: ready.set(),
        )
    )
    await asyncio.wait_for(ready.wait(), 10)
    stop.set()
    await task
    assert (
        registry.get_sample_value("gempool_build_info", {"service": "keypool"} | build_labels("keypool")) == 1
    )
    assert registry.get_sample_value("process_open_fds") is not None


def build_labels(service: str) -> dict[str, str]:
    return {"version": importlib.metadata.version(f"gempool-{service}"), "python": platform.python_version()}
