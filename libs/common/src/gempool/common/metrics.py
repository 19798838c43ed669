"""Series every service exports beside its own: build info and the process' CPU, memory, fds."""

import importlib.metadata
import platform
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


def version_of(service: str) -> str:
    try:
        return importlib.metadata.version(f"gempool-{service}")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class BuildInfo(Collector):
    """``gempool_build_info{service, version, python} 1``: which build answers, for dashboards
    and for alerts that compare replicas."""

    def __init__(self, service: str) -> None:
        self.labels = [service, version_of(service), platform.python_version()]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "gempool_build_info", "The running build", labels=["service", "version", "python"]
        )
        family.add_metric(self.labels, 1)
        yield family


def register_process_metrics(registry: CollectorRegistry, service: str) -> None:
    """``gempool_build_info`` and ``process_*`` (Linux) on a service's own registry."""
    registry.register(BuildInfo(service))
    ProcessCollector(registry=registry)
