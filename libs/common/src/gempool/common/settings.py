"""The base of every service's process settings (read once from env and ``.env`` at start)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    LOG_LEVEL: str = Field(default="INFO", description="Log level until the live LOG_LEVEL arrives.")
    GRPC_HOST: str = Field(default="0.0.0.0", description="Address the gRPC and metrics servers bind.")
    SHUTDOWN_GRACE_SECONDS: float = Field(
        default=5.0, description="Seconds in-flight calls get to finish on shutdown."
    )
