"""Gateway process settings (env and .env); live settings come from the config service."""

from pydantic import Field

from gempool.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    HOST: str = Field(default="0.0.0.0", description="Address the HTTP server binds.")
    PORT: int = Field(
        default=8000, ge=0, le=65535, description="HTTP port of the API, admin panel and /metrics."
    )
    FORWARDED_ALLOW_IPS: str = Field(
        default="",
        description="Comma list of the reverse proxies' addresses or networks (or *) whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; empty: no forwarding header is, the peer is the client.",
    )
    GATEWAY_WORKERS: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes.")
    GATEWAY_SHUTDOWN_GRACE_SECONDS: float = Field(
        default=45.0,
        ge=0,
        le=3600,
        description=(
            "On SIGTERM, how long answers in flight may take to finish (new connections are refused "
            "and /readyz answers 503 at once); what still runs then ends with an error the client "
            "sees. Keep it under the platform's stop timeout (Kubernetes' terminationGracePeriodSeconds "
            "minus the preStop sleep), with ~10 s to spare for the last log shipment."
        ),
    )
    KEYPOOL_STREAMS: int = Field(
        default=2, ge=1, le=64, description="Session streams to the keypool (spread over its replicas)."
    )
    KEYPOOL_ADDR: str = Field(default="127.0.0.1:50051", description="host:port of the keypool service.")
    CONFIG_ADDR: str = Field(default="127.0.0.1:50052", description="host:port of the config service.")
    IMAGEHOST_ADDR: str = Field(default="127.0.0.1:50053", description="host:port of the imagehost service.")
    MAX_REQUEST_BYTES: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest request body accepted from a client (413 beyond it, before routing and auth; "
            "chunked bodies too). Larger files go up with resumable uploads, in chunks."
        ),
    )
    ADMIN_MAX_REQUEST_BYTES: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        le=30 * 1024 * 1024,
        description=(
            "Largest request body under /api/admin (an import file). At most 30 MiB: an import "
            "travels to the config service in one gRPC message (32 MiB)."
        ),
    )
    MAX_HEADER_BYTES: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request head (request line and headers): beyond it 431, connection closed.",
    )
    HTTP_HEAD_TIMEOUT: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description=(
            "Seconds a client has to send a request's line and headers, from their first byte or from "
            "connecting; then the connection is closed (slowloris)."
        ),
    )
    HTTP_BODY_TIMEOUT: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's whole body after its headers, then cut off.",
    )
    HTTP_KEEP_ALIVE_TIMEOUT: int = Field(
        default=5, ge=1, le=600, description="Seconds an idle connection stays open after an answer."
    )
    UPSTREAM_MAX_CONNECTIONS: int = Field(
        default=512, description="Upstream connections kept open per outbound proxy."
    )
    REDIS_URL: str = Field(
        default="",
        description=(
            "Redis shared by every gateway process: per-token request limits, admin sign-in throttling "
            "and logouts, which key holds an uploaded file. Empty: each process keeps its own."
        ),
    )
    REDIS_PREFIX: str = Field(default="gempool:", description="Prefix of every Redis key the gateway writes.")
    LOG_FLUSH_SECONDS: float = Field(
        default=0.5, gt=0, le=60, description="How often request and error logs go to the config service."
    )
    LOG_BUFFER_MAX: int = Field(
        default=100_000,
        ge=1000,
        description="Log records kept per kind while the config service is away; beyond it the oldest go.",
    )
    LOG_SPOOL_DIR: str = Field(
        default="data/log-spool",
        description=(
            "Directory where log records wait on disk when the config service is away or the gateway "
            "stops; shipped from there later. Empty: in memory only (lost when the gateway stops)."
        ),
    )
    LOG_SPOOL_AFTER_SECONDS: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How long the config service may be away before logs go to disk.",
    )
    LOG_SPOOL_MAX_MB: int = Field(
        default=512, ge=1, description="Size of the log spool; beyond it the oldest batches are dropped."
    )
