"""The ImageHostService servicer: validation, provider choice, error mapping."""

import logging
from typing import Any

import grpc
import httpx
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from gempool.api.config.v1 import config_pb2
from gempool.api.imagehost.v1 import imagehost_pb2, imagehost_pb2_grpc
from gempool.common.live import LiveSettings
from gempool.common.logs import set_level
from gempool.imagehost import media
from gempool.imagehost.providers import LocalStore, Provider, ProviderError, ProviderNotConfigured, Upload
from gempool.imagehost.remote import REMOTE, remote_provider

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.uploads = Counter(
            "gempool_imagehost_uploads",
            "Uploads by provider and result (ok, invalid, failed)",
            ["provider", "result"],
            registry=registry,
        )
        self.stored_bytes = Counter(
            "gempool_imagehost_stored_bytes", "Bytes stored, by provider", ["provider"], registry=registry
        )


class ImageHostServicer(imagehost_pb2_grpc.ImageHostServiceServicer):
    def __init__(self, local: LocalStore, client: httpx.AsyncClient, metrics: Metrics) -> None:
        self.local = local
        self.client = client
        self.metrics = metrics
        # Until the config service answers (or if it never does), defaults apply: provider local.
        self.live = LiveSettings()

    async def apply_snapshot(self, snapshot: config_pb2.SettingsSnapshot) -> None:
        """follow_settings callback: keep the newest valid live settings."""
        try:
            live = LiveSettings.from_wire(snapshot.values)
        except (ValidationError, ValueError):
            log.exception("ignoring an invalid settings snapshot", extra={"revision": snapshot.revision})
            return
        if live.UPLOAD_PROVIDER != "local" and live.UPLOAD_PROVIDER not in REMOTE:
            log.error("unknown UPLOAD_PROVIDER, using local", extra={"provider": live.UPLOAD_PROVIDER})
        if live.LOG_LEVEL != self.live.LOG_LEVEL:
            set_level(live.LOG_LEVEL)
        self.live = live
        log.info("settings applied", extra={"revision": snapshot.revision, "provider": self.provider_name()})

    def provider_name(self) -> str:
        return self.live.UPLOAD_PROVIDER if self.live.UPLOAD_PROVIDER in REMOTE else "local"

    def provider(self) -> Provider:
        if self.provider_name() == "local":
            return self.local
        return remote_provider(self.live, self.client)

    async def Upload(
        self, request: imagehost_pb2.UploadRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> imagehost_pb2.UploadResponse:
        name = self.provider_name()
        try:
            mime = media.check_upload(request.data, request.mime_type)
        except media.InvalidUpload as exc:
            self.metrics.uploads.labels(name, "invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        item = Upload(data=request.data, mime_type=mime, name=media.new_name(mime))
        try:
            url = await self.provider().upload(item)
        except ProviderError as exc:
            self.metrics.uploads.labels(name, "failed").inc()
            log.warning("upload failed", extra={"provider": name, "error": str(exc)})
            code = (
                grpc.StatusCode.FAILED_PRECONDITION
                if isinstance(exc, ProviderNotConfigured)
                else grpc.StatusCode.UNAVAILABLE
            )
            await context.abort(code, f"{name}: {exc}")
        self.metrics.uploads.labels(name, "ok").inc()
        self.metrics.stored_bytes.labels(name).inc(len(item.data))
        return imagehost_pb2.UploadResponse(url=url, provider=name)

    async def Fetch(
        self, request: imagehost_pb2.FetchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> imagehost_pb2.FetchResponse:
        try:
            data, mime = await self.local.read(request.name)
        except media.InvalidUpload as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except FileNotFoundError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no stored file {request.name!r}")
        return imagehost_pb2.FetchResponse(data=data, mime_type=mime)
