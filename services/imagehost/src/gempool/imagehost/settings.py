"""Process settings of the imagehost service (read once at start)."""

from pathlib import Path

from pydantic import Field, field_validator

from gempool.common.settings import GrpcServiceSettings


class ImageHostSettings(GrpcServiceSettings):
    IMAGEHOST_PORT: int = Field(default=50053, description="gRPC port (0 picks a free one).")
    IMAGEHOST_METRICS_PORT: int = Field(default=9103, description="Prometheus port; -1 disables it.")
    CONFIG_ADDR: str = Field(default="127.0.0.1:50052", description="host:port of the config service.")
    IMAGEHOST_DIR: Path = Field(
        default=Path("./data/images"), description="Where the local provider keeps files."
    )
    PUBLIC_BASE_URL: str = Field(
        default="",
        description="The gateway's public URL for image links; empty: links are /images/{name} paths.",
    )

    @field_validator("PUBLIC_BASE_URL")
    @classmethod
    def _base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be empty or start with http:// or https://")
        return url
