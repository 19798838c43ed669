"""The gateway's Prometheus metrics (one registry, names prefixed ``gempool_gateway_``)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "gempool_gateway_requests", "Client requests answered", ["route", "status"], registry=registry
        )
        self.seconds = Histogram(
            "gempool_gateway_request_seconds",
            "Time to the first byte of the answer",
            ["route"],
            registry=registry,
            buckets=BUCKETS,
        )
        self.attempts = Counter(
            "gempool_gateway_upstream_attempts",
            "Upstream attempts by outcome",
            ["outcome"],
            registry=registry,
        )
        self.retries = Histogram(
            "gempool_gateway_retries_per_request",
            "Extra attempts a request needed",
            registry=registry,
            buckets=(0, 1, 2, 3, 5, 10),
        )
