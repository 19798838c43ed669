"""The keypool's Prometheus metrics (one registry, passed in; no per-key labels).

Every label value the code can produce today exists from the start at zero, so the first
retirement or cooldown shows in ``rate()`` and ``increase()``.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge

P = "gempool_keypool"
STATES = ("active", "cooling", "retired", "disabled")
POOLS = ("free", "paid", "vertex")
LEASE_RESULTS = ("ok", "cooling", "empty", "wanted_unavailable")
COOLDOWN_REASONS = ("rate_limit", "daily_quota", "daily_quota_project")
RETIREMENT_REASONS = ("bad_key", "max_failures")
# (verdict, kind) pairs classify.py gives
REPORTS = (
    ("VERDICT_SUCCESS", "ok"),
    ("VERDICT_CLIENT_ERROR", "client_error"),
    ("VERDICT_CLIENT_ERROR", "client_gone"),
    ("VERDICT_KEY_RETIRED", "bad_key"),
    ("VERDICT_KEY_COOLING", "rate_limit"),
    ("VERDICT_KEY_COOLING", "daily_quota"),
    ("VERDICT_TRANSIENT", "timeout"),
    ("VERDICT_TRANSIENT", "connect_error"),
    ("VERDICT_TRANSIENT", "empty_answer"),
    ("VERDICT_TRANSIENT", "overloaded"),
    ("VERDICT_TRANSIENT", "server_error"),
)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.keys = Gauge(f"{P}_keys", "Keys by state", ["state"], registry=registry)
        self.cooldowns = Counter(
            f"{P}_cooldowns", "Cooldowns started, by cause", ["reason"], registry=registry
        )
        self.leases = Counter(
            f"{P}_leases", "Leases by pool and result", ["pool", "result"], registry=registry
        )
        self.reports = Counter(
            f"{P}_reports", "Reports by verdict and cause", ["verdict", "kind"], registry=registry
        )
        self.retirements = Counter(
            f"{P}_retirements", "Keys retired, by cause", ["reason"], registry=registry
        )
        self.restorations = Counter(f"{P}_restorations", "Retired keys restored", registry=registry)
        self.store_up = Gauge(f"{P}_store_up", "1 while the key store (Redis) answers", registry=registry)
        self.rebuilds = Counter(
            f"{P}_store_rebuilds", "Rings rebuilt after the key store lost them", registry=registry
        )
        self.upstream_up = Gauge(
            f"{P}_upstream_up",
            "0 while a route to the upstream (direct or a proxy) is down",
            ["route"],
            registry=registry,
        )
        self.status_pending = Gauge(
            f"{P}_status_pending",
            "Key status changes not yet recorded in the config service",
            registry=registry,
        )
        self.reloads = Counter(
            f"{P}_key_reloads", "Key list reloads from the config service", registry=registry
        )
        self._start_at_zero()

    def _start_at_zero(self) -> None:
        for state in STATES:
            self.keys.labels(state)
        for pool in POOLS:
            for result in LEASE_RESULTS:
                self.leases.labels(pool, result)
        for reason in COOLDOWN_REASONS:
            self.cooldowns.labels(reason)
        for reason in RETIREMENT_REASONS:
            self.retirements.labels(reason)
        for verdict, kind in REPORTS:
            self.reports.labels(verdict, kind)
