"""The ConfigService servicer: thin async wrappers over the blocking store, plus the watch hub."""

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

import grpc

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.scrub import scrub
from gempool.config.adminrpc import AdminRpcs, Context
from gempool.config.hub import Hub
from gempool.config.keystore import KIND_TO_DB, STATUS_TO_DB, KeyInput
from gempool.config.metrics import Metrics
from gempool.config.store import Store

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


class ConfigServicer(AdminRpcs, config_pb2_grpc.ConfigServiceServicer):
    def __init__(
        self, store: Store, hub: Hub, metrics: Metrics, env: Mapping[str, str] | None = None
    ) -> None:
        self.store, self.hub, self.metrics = store, hub, metrics
        self.env: Mapping[str, str] = env or {}

    async def GetSettings(
        self, request: config_pb2.GetSettingsRequest, context: Context
    ) -> config_pb2.GetSettingsResponse:
        return config_pb2.GetSettingsResponse(snapshot=await asyncio.to_thread(self.store.snapshot))

    async def UpdateSettings(
        self, request: config_pb2.UpdateSettingsRequest, context: Context
    ) -> config_pb2.UpdateSettingsResponse:
        actor = request.actor or "unknown"
        errors = await asyncio.to_thread(self.store.update_settings, dict(request.values), actor)
        if errors:
            self.metrics.settings_rejected.inc()
            log.info("settings update refused", extra={"actor": actor, "invalid": sorted(errors)})
            return config_pb2.UpdateSettingsResponse(
                snapshot=self.hub.current,
                errors=[config_pb2.FieldError(name=n, message=m) for n, m in sorted(errors.items())],
            )
        log.info("settings updated", extra={"actor": actor, "names": sorted(request.values)})
        await self.hub.refresh()
        return config_pb2.UpdateSettingsResponse(snapshot=self.hub.current)

    async def Watch(
        self, request: config_pb2.WatchRequest, context: Context
    ) -> AsyncIterator[config_pb2.WatchResponse]:
        async for snapshot in self.hub.subscribe():
            yield config_pb2.WatchResponse(snapshot=snapshot)

    async def ListKeys(
        self, request: config_pb2.ListKeysRequest, context: Context
    ) -> config_pb2.ListKeysResponse:
        if request.page_size < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await asyncio.to_thread(self.store.list_keys, size, request.page_token)

    async def AddKeys(
        self, request: config_pb2.AddKeysRequest, context: Context
    ) -> config_pb2.AddKeysResponse:
        keys = [KeyInput(k.api_key, KIND_TO_DB.get(k.kind, "free"), list(k.tags)) for k in request.keys]
        added, existing = await asyncio.to_thread(self.store.add_keys, keys)
        log.info("keys added", extra={"added": added, "existing": existing})
        if added:
            await self.hub.refresh()
        return config_pb2.AddKeysResponse(
            added=added, existing=existing, keys_revision=self.hub.current.keys_revision
        )

    async def RemoveKeys(
        self, request: config_pb2.RemoveKeysRequest, context: Context
    ) -> config_pb2.RemoveKeysResponse:
        removed = await asyncio.to_thread(self.store.remove_keys, list(request.key_ids))
        log.info("keys removed", extra={"removed": removed})
        if removed:
            await self.hub.refresh()
        return config_pb2.RemoveKeysResponse(removed=removed, keys_revision=self.hub.current.keys_revision)

    async def SetKeyStatus(
        self, request: config_pb2.SetKeyStatusRequest, context: Context
    ) -> config_pb2.SetKeyStatusResponse:
        status = await _db_status(request.status, context)
        reason = scrub(request.reason)  # shown in the panel: never a whole key, whoever reported it
        found = await asyncio.to_thread(self.store.set_key_status, request.key_id, status, reason)
        log.info("key status set", extra={"key_id": request.key_id, "status": status, "found": found})
        if found:
            await self.hub.refresh()
        return config_pb2.SetKeyStatusResponse(found=found, keys_revision=self.hub.current.keys_revision)

    async def SetKeysStatus(
        self, request: config_pb2.SetKeysStatusRequest, context: Context
    ) -> config_pb2.SetKeysStatusResponse:
        ids, status = list(request.key_ids), await _db_status(request.status, context)
        missing = await asyncio.to_thread(self.store.set_keys_status, ids, status, request.reason[:500])
        log.info("keys status set", extra={"keys": len(ids) - len(missing), "status": status})
        if len(missing) < len(ids):
            await self.hub.refresh()
        return config_pb2.SetKeysStatusResponse(missing=missing, keys_revision=self.hub.current.keys_revision)

    async def TagKeys(
        self, request: config_pb2.TagKeysRequest, context: Context
    ) -> config_pb2.TagKeysResponse:
        if any(len(t) > 128 for t in [*request.add, *request.remove]):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a tag is at most 128 characters")
        ids, add, remove = list(request.key_ids), list(request.add), list(request.remove)
        changed = await asyncio.to_thread(self.store.tag_keys, ids, add, remove)
        log.info("keys tagged", extra={"changed": changed})
        if changed:
            await self.hub.refresh()
        return config_pb2.TagKeysResponse(changed=changed, keys_revision=self.hub.current.keys_revision)

    async def WriteLogs(
        self, request: config_pb2.WriteLogsRequest, context: Context
    ) -> config_pb2.WriteLogsResponse:
        stored, duplicate = await asyncio.to_thread(
            self.store.write_logs, list(request.requests), list(request.errors), request.batch_id
        )
        if duplicate:
            log.info("log batch delivered again; stored before", extra={"batch_id": request.batch_id})
        else:
            self.metrics.logs_stored.labels("request").inc(len(request.requests))
            self.metrics.logs_stored.labels("error").inc(len(request.errors))
        return config_pb2.WriteLogsResponse(stored=stored, duplicate=duplicate)


async def _db_status(status: "config_pb2.KeyStatus.ValueType", context: Context) -> str:
    """The database's word for a wire key status; INVALID_ARGUMENT for any other value."""
    if status not in STATUS_TO_DB:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "status must be ACTIVE, RETIRED or DISABLED")
    return STATUS_TO_DB[status]
