"""The config service's own metrics (the gRPC ones come from gempool.common.grpcserver)."""

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.watchers = Gauge("gempool_config_watchers", "Open Watch streams", registry=registry)
        self.settings_revision = Gauge(
            "gempool_config_settings_revision", "Settings revision last published", registry=registry
        )
        self.keys_revision = Gauge(
            "gempool_config_keys_revision", "Keys revision last published", registry=registry
        )
        self.logs_stored = Counter(
            "gempool_config_logs_stored", "Log rows stored by WriteLogs", ["kind"], registry=registry
        )
        self.settings_rejected = Counter(
            "gempool_config_settings_rejected", "UpdateSettings calls refused as invalid", registry=registry
        )
        for kind in ("request", "error"):  # at zero from the start, so the first batch shows in rate()
            self.logs_stored.labels(kind)
