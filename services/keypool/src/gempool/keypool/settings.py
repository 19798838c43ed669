"""Process settings of the keypool (live settings come from the config service)."""

from pydantic import Field, field_validator

from gempool.common.settings import GrpcServiceSettings


class KeyPoolSettings(GrpcServiceSettings):
    KEYPOOL_PORT: int = Field(default=50051, ge=0, le=65535, description="gRPC port (0 picks a free one).")
    KEYPOOL_METRICS_PORT: int = Field(
        default=9101, ge=-1, le=65535, description="Prometheus port; -1 disables it."
    )
    CONFIG_ADDR: str = Field(
        default="127.0.0.1:50052", description="host:port of the config service (keys and live settings)."
    )
    REDIS_URL: str = Field(
        default="",
        description="redis://host:6379/0 shares rotation, cooldowns and retirement across replicas; "
        "empty: an in-memory store (one replica only).",
    )
    REDIS_PREFIX: str = Field(
        default="gempool:",
        description="Prefix of every Redis key the keypool writes (':' appended when missing).",
    )
    PROBE_CONCURRENCY: int = Field(
        default=10,
        ge=1,
        description="Parallel probes of the background prober, and of VerifyKeys when it names none.",
    )
    STARTUP_WAIT_SECONDS: float = Field(
        default=10.0,
        ge=0,
        description="Seconds to wait for the first settings snapshot before serving anyway.",
    )

    @field_validator("REDIS_PREFIX")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not value.endswith(":"):
            return value + ":"
        return value
