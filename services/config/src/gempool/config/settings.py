"""Process settings of the config service (read once from env and ``.env`` at start)."""

from pathlib import Path

from pydantic import Field, field_validator

from gempool.common.settings import GrpcServiceSettings

_PG_PREFIXES = ("postgres://", "postgresql://")


class ConfigServiceSettings(GrpcServiceSettings):
    CONFIG_PORT: int = Field(default=50052, ge=0, le=65535, description="gRPC port (0 picks a free one).")
    CONFIG_METRICS_PORT: int = Field(
        default=9102, ge=-1, le=65535, description="Prometheus port; -1 disables it."
    )
    DATABASE_URL: str = Field(
        default="sqlite:///./data/gempool.db",
        description="sqlite:///path or postgresql://user:pass@host/db (postgres:// works too).",
    )
    ADMIN_TOKEN_FILE: Path = Field(
        default=Path("./data/admin_token"),
        description="Where a generated admin token (AUTH_TOKEN) is written, mode 0600.",
    )
    WATCH_POLL_SECONDS: float = Field(
        default=1.0, gt=0, description="How often changes made by other replicas or the CLI are looked for."
    )
    RETENTION_INTERVAL_SECONDS: float = Field(
        default=3600.0,
        gt=0,
        description="How often old logs (AUTO_DELETE_*) and ended admin sessions are deleted (one replica).",
    )

    @field_validator("DATABASE_URL")
    @classmethod
    def _psycopg(cls, value: str) -> str:
        """``postgres://`` and ``postgresql://`` DSNs use the psycopg 3 driver."""
        url = value.strip()
        for prefix in _PG_PREFIXES:
            if url.startswith(prefix):
                url = "postgresql+psycopg://" + url.removeprefix(prefix)
        if not url.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:///path or postgresql://user@host/db URL")
        return url
