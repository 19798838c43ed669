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
        self.streams_cut = Counter(
            "gempool_gateway_streams_cut",
            "Streams that began and then ended with an error event (upstream cut or silent, shutdown)",
            ["reason"],
            registry=registry,
        )
        self.not_ready = Counter(
            "gempool_gateway_not_ready_answers",
            "Requests answered 503 because this gateway had no settings yet",
            registry=registry,
        )
        self.admin_failures = Counter(
            "gempool_gateway_admin_auth_failures",
            "Wrong admin tokens sent to the login or as a Bearer",
            ["via"],
            registry=registry,
        )
        self.admin_lockouts = Counter(
            "gempool_gateway_admin_lockouts",
            "Client addresses locked out of admin sign-in after too many wrong tokens",
            registry=registry,
        )
        self.admin_redis_errors = Counter(
            "gempool_gateway_admin_redis_errors",
            "Admin sign-in checks that could not reach Redis (this replica's memory answered)",
            registry=registry,
        )
