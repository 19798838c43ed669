"""The ImageHostService servicer: validation, provider choice, error mapping."""

import asyncio
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
from gempool.imagehost.errorlog import UploadErrors
from gempool.imagehost.providers import LocalStore, Provider, ProviderError, TransientProviderError
from gempool.imagehost.providers import Upload as Item
from gempool.imagehost.remote import REMOTE, remote_provider

log = logging.getLogger(__name__)

RETRY_DELAY = 0.5  # seconds before the first retry; doubled for each next one


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
        self.fallbacks = Counter(
            "gempool_imagehost_fallbacks",
            "Uploads the chosen provider failed and the local provider kept instead",
            ["provider"],
            registry=registry,
        )
        self.retries = Counter(
            "gempool_imagehost_upload_retries",
            "Uploads tried again after a passing failure (network, 429, 5xx)",
            ["provider"],
            registry=registry,
        )
        self.swept = Counter(
            "gempool_imagehost_swept_files",
            "Local images deleted by LOCAL_IMAGE_MAX_AGE_HOURS / LOCAL_IMAGE_MAX_TOTAL_MB",
            registry=registry,
        )
        for name in ("local", *REMOTE):
            for result in ("ok", "invalid", "failed"):
                self.uploads.labels(name, result)
            self.stored_bytes.labels(name)
            self.fallbacks.labels(name)
            self.retries.labels(name)


class ImageHostServicer(imagehost_pb2_grpc.ImageHostServiceServicer):
    def __init__(
        self,
        local: LocalStore,
        client: httpx.AsyncClient,
        metrics: Metrics,
        errors: "UploadErrors | None" = None,
    ) -> None:
        self.local = local
        self.client = client
        self.metrics = metrics
        self.errors = errors
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
        item = Item(data=request.data, mime_type=mime, name=media.new_name(mime))
        try:
            url = await self._upload(name, item)
        except ProviderError as exc:
            if name == "local":
                self.metrics.uploads.labels(name, "failed").inc()
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"local: {exc}")
            self._fell_back(name, exc)
            name, url = "local", await self._keep_locally(item, context)
        self.metrics.uploads.labels(name, "ok").inc()
        self.metrics.stored_bytes.labels(name).inc(len(item.data))
        return imagehost_pb2.UploadResponse(url=url, provider=name)

    async def _upload(self, name: str, item: Item) -> str:
        """The chosen provider's URL; passing failures are tried again UPLOAD_RETRIES times."""
        provider = self.provider()
        tries = 1 + (self.live.UPLOAD_RETRIES if name != "local" else 0)
        for attempt in range(tries):
            try:
                return await provider.upload(item)
            except TransientProviderError:
                if attempt + 1 == tries:
                    raise
                self.metrics.retries.labels(name).inc()
                await asyncio.sleep(RETRY_DELAY * 2**attempt)
        raise AssertionError("unreachable")

    def _fell_back(self, name: str, exc: ProviderError) -> None:
        """The chosen host failed: counted, logged, and written to the error log the panel shows."""
        self.metrics.uploads.labels(name, "failed").inc()
        self.metrics.fallbacks.labels(name).inc()
        log.warning("upload failed; the image is kept locally", extra={"provider": name, "error": str(exc)})
        if self.errors is not None:
            self.errors.report(name, str(exc))

    async def _keep_locally(self, item: Item, context: grpc.aio.ServicerContext[Any, Any]) -> str:
        try:
            return await self.local.upload(item)
        except OSError as exc:
            self.metrics.uploads.labels("local", "failed").inc()
            log.error("the local fallback failed too", extra={"error": type(exc).__name__})
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the image could not be stored")
        raise AssertionError("unreachable")

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
