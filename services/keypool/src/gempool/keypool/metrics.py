"""The keypool's Prometheus metrics (one registry, passed in; no per-key labels)."""

from prometheus_client import CollectorRegistry, Counter, Gauge

P = "gempool_keypool"


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
