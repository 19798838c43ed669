"""The series the services export, read from their own metric definitions, and a reader of the
names and labels a PromQL expression uses. Shared by the dashboard and the alert tests."""

import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from gempool.common.grpcserver import MetricsInterceptor
from gempool.common.metrics import register_process_metrics
from gempool.config.metrics import Metrics as ConfigMetrics
from gempool.gateway.logs.ship import ShipperMetrics
from gempool.gateway.logs.spool import Spool
from gempool.gateway.metrics import GatewayMetrics
from gempool.imagehost.service import Metrics as ImageHostMetrics
from gempool.keypool.metrics import Metrics as KeyPoolMetrics

# Labels Prometheus adds to every scraped series (static configs, ServiceMonitor targets).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported(spool_dir: Path) -> dict[str, set[str]]:
    """Series name -> its label names (Prometheus' own `up` included)."""
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    ShipperMetrics(registry, lambda: 0)
    Spool(spool_dir, 1 << 20, registry)
    KeyPoolMetrics(registry)
    ConfigMetrics(registry)
    ImageHostMetrics(registry)
    for service in ("keypool", "config", "imagehost"):
        MetricsInterceptor(registry, f"gempool_{service}")
    register_process_metrics(registry, "gateway")
    series: dict[str, set[str]] = {"up": set()}
    for collector in list(registry._collector_to_names):
        if isinstance(collector, MetricWrapperBase):
            labels = set(collector._labelnames) | ({"le"} if collector._type == "histogram" else set())
            for suffix in SUFFIXES[str(collector._type)]:
                series[collector._name + suffix] = labels
        else:
            for family in collector.collect():
                for sample in family.samples:
                    series.setdefault(sample.name, set()).update(sample.labels)
    return {name: labels | TARGET_LABELS for name, labels in series.items()}


SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
FUNCTIONS = {
    "sum", "rate", "irate", "increase", "max", "min", "avg", "count", "by", "without", "on", "and",
    "or", "unless", "histogram_quantile", "deriv", "vector", "absent", "topk", "bottomk", "clamp_min",
    "label_values", "ignoring", "group_left", "group_right", "offset", "bool", "time", "scalar",
    "delta", "idelta", "max_over_time", "min_over_time", "avg_over_time", "changes", "resets",
}  # fmt: skip


def references(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """({metric: label names its selector matches on}, label names used in by()/on()...).

    Template variables ($job) and range durations are dropped first; strings are blanked.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    metrics: dict[str, set[str]] = {}
    for name, braces in SELECTOR.findall(text):
        if name in FUNCTIONS or name.startswith("__"):
            continue
        labels = set(re.findall(r"([a-zA-Z_]+)\s*(?:=~|!~|!=|=)", braces or ""))
        metrics.setdefault(name, set()).update(labels)
    grouped = {label.strip() for group in GROUPING.findall(text) for label in group.split(",")}
    for label in grouped:
        metrics.pop(label, None)
    return metrics, grouped - {""}


def problems(expr: str, series: dict[str, set[str]]) -> list[str]:
    """What in ``expr`` the services do not export (empty: all of it exists)."""
    metrics, grouped = references(expr)
    found = []
    for name, labels in metrics.items():
        if name not in series:
            found.append(f"no series {name}")
        elif labels - series[name]:
            found.append(f"{name} has no label {sorted(labels - series[name])}")
    known = set().union(*(series.get(name, set()) for name in metrics)) if metrics else set()
    if grouped - known:
        found.append(f"grouping by unknown labels {sorted(grouped - known)}")
    if not metrics:
        found.append("uses no series")
    return found
