"""The base of every service's process settings (read once from env and ``.env`` at start)."""

import logging
from typing import TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gempool.common.internalauth import bind_problem
from gempool.common.live import validation_errors


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    LOG_LEVEL: str = Field(default="INFO", description="Log level until the live LOG_LEVEL arrives.")
    GRPC_HOST: str = Field(
        default="127.0.0.1",
        description="Address the gRPC and metrics servers bind; 0.0.0.0 (containers) needs INTERNAL_TOKEN.",
    )
    INTERNAL_TOKEN: str = Field(
        default="",
        description="Shared secret every gRPC call between gempool's services carries (the same in all "
        "four); a gRPC service refuses to listen beyond loopback without it.",
    )
    SHUTDOWN_GRACE_SECONDS: float = Field(
        default=5.0, description="Seconds in-flight calls get to finish on shutdown."
    )


class GrpcServiceSettings(ServiceSettings):
    """A service that serves gRPC: it will not start open to the network."""

    @field_validator("INTERNAL_TOKEN")
    @classmethod
    def _credential_beyond_loopback(cls, value: str, info: ValidationInfo) -> str:
        problem = bind_problem(info.data.get("GRPC_HOST", ""), value)
        if problem is not None:
            raise ValueError(problem)
        return value


Settings = TypeVar("Settings", bound=BaseSettings)


def load(cls: type[Settings], service: str) -> Settings:
    """The process settings; a bad value is logged, one line per setting, and the process exits 2."""
    try:
        return cls()
    except ValidationError as exc:
        log = logging.getLogger(f"gempool.{service}")
        for name, message in validation_errors(exc).items():
            log.error(f"invalid {name}: {message}", extra={"setting": name})
        raise SystemExit(2) from None
