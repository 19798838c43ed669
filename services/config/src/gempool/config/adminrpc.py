"""The RPCs behind the gateway's admin API (settings detail, tokens, sessions, logs, stats, transfer).

A mixin of the ConfigService servicer: thin async wrappers that run the blocking store in a thread
and publish a new snapshot when settings or tokens changed.
"""

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, TypeAlias

import grpc

from gempool.api.config.v1 import config_pb2
from gempool.config import logquery, sessions, settingsinfo, stats, transfer
from gempool.config.hub import Hub
from gempool.config.metrics import Metrics
from gempool.config.store import Store

log = logging.getLogger(__name__)

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


def field_errors(errors: Mapping[str, str]) -> list[config_pb2.FieldError]:
    return [config_pb2.FieldError(name=n, message=m) for n, m in sorted(errors.items())]


class AdminRpcs:
    store: Store
    hub: Hub
    metrics: Metrics
    env: Mapping[str, str]

    # ---- settings

    async def DescribeSettings(
        self, request: config_pb2.DescribeSettingsRequest, context: Context
    ) -> config_pb2.DescribeSettingsResponse:
        infos = await asyncio.to_thread(self.store.run, settingsinfo.describe, self.env)
        return config_pb2.DescribeSettingsResponse(settings=infos, revision=self.hub.current.revision)

    async def ListSettingsHistory(
        self, request: config_pb2.ListSettingsHistoryRequest, context: Context
    ) -> config_pb2.ListSettingsHistoryResponse:
        changes, after = await asyncio.to_thread(
            self.store.run, settingsinfo.history, request.name, request.page_size, request.before_id
        )
        return config_pb2.ListSettingsHistoryResponse(changes=changes, next_before_id=after)

    async def RollbackSetting(
        self, request: config_pb2.RollbackSettingRequest, context: Context
    ) -> config_pb2.RollbackSettingResponse:
        actor = request.actor or "unknown"
        errors = await asyncio.to_thread(self.store.rollback_setting, request.change_id, actor)
        if errors is None:
            return config_pb2.RollbackSettingResponse(found=False, snapshot=self.hub.current)
        if not errors:
            log.info("setting rolled back", extra={"actor": actor, "change_id": request.change_id})
            await self.hub.refresh()
        return config_pb2.RollbackSettingResponse(
            found=True, snapshot=self.hub.current, errors=field_errors(errors)
        )

    # ---- client tokens

    async def ListTokens(
        self, request: config_pb2.ListTokensRequest, context: Context
    ) -> config_pb2.ListTokensResponse:
        return await asyncio.to_thread(self.store.list_tokens)

    async def CreateToken(
        self, request: config_pb2.CreateTokenRequest, context: Context
    ) -> config_pb2.CreateTokenResponse:
        record, secret, errors = await asyncio.to_thread(self.store.create_token, request)
        if record is None:
            return config_pb2.CreateTokenResponse(errors=field_errors(errors))
        log.info("token created", extra={"actor": request.actor, "token": record.token.name})
        await self.hub.refresh()
        return config_pb2.CreateTokenResponse(token=record, secret=secret)

    async def UpdateToken(
        self, request: config_pb2.UpdateTokenRequest, context: Context
    ) -> config_pb2.UpdateTokenResponse:
        record, errors = await asyncio.to_thread(self.store.update_token, request)
        if record is not None and not errors:
            log.info("token updated", extra={"actor": request.actor, "token": record.token.name})
            await self.hub.refresh()
        return config_pb2.UpdateTokenResponse(
            found=record is not None, token=record, errors=field_errors(errors)
        )

    async def DeleteToken(
        self, request: config_pb2.DeleteTokenRequest, context: Context
    ) -> config_pb2.DeleteTokenResponse:
        found = await asyncio.to_thread(self.store.delete_token, request.id, request.actor or "unknown")
        if found:
            log.info("token deleted", extra={"actor": request.actor, "token_id": request.id})
            await self.hub.refresh()
        return config_pb2.DeleteTokenResponse(found=found)

    # ---- admin sessions

    async def CreateSession(
        self, request: config_pb2.CreateSessionRequest, context: Context
    ) -> config_pb2.CreateSessionResponse:
        if len(request.digest) != 64 or request.ttl_seconds <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "need a sha256 digest and a positive ttl")
        expires = await asyncio.to_thread(
            self.store.run, sessions.create, request.digest, request.ttl_seconds, request.client
        )
        return config_pb2.CreateSessionResponse(expires_at_unix=expires.timestamp())

    async def CheckSession(
        self, request: config_pb2.CheckSessionRequest, context: Context
    ) -> config_pb2.CheckSessionResponse:
        expires = await asyncio.to_thread(self.store.run, sessions.check, request.digest)
        if expires is None:
            return config_pb2.CheckSessionResponse(valid=False)
        return config_pb2.CheckSessionResponse(valid=True, expires_at_unix=expires.timestamp())

    async def DeleteSession(
        self, request: config_pb2.DeleteSessionRequest, context: Context
    ) -> config_pb2.DeleteSessionResponse:
        found = await asyncio.to_thread(self.store.run, sessions.remove, request.digest)
        return config_pb2.DeleteSessionResponse(found=found)

    # ---- logs and stats

    async def ListRequestLogs(
        self, request: config_pb2.ListRequestLogsRequest, context: Context
    ) -> config_pb2.ListRequestLogsResponse:
        return await asyncio.to_thread(self.store.run, logquery.list_requests, request)

    async def ListErrorLogs(
        self, request: config_pb2.ListErrorLogsRequest, context: Context
    ) -> config_pb2.ListErrorLogsResponse:
        return await asyncio.to_thread(self.store.run, logquery.list_errors, request)

    async def DeleteLogs(
        self, request: config_pb2.DeleteLogsRequest, context: Context
    ) -> config_pb2.DeleteLogsResponse:
        if request.kind == config_pb2.LOG_KIND_UNSPECIFIED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "kind must be REQUEST or ERROR")
        deleted = await asyncio.to_thread(self.store.run, logquery.delete_logs, request)
        log.info("logs deleted", extra={"kind": config_pb2.LogKind.Name(request.kind), "deleted": deleted})
        return config_pb2.DeleteLogsResponse(deleted=deleted)

    async def GetStats(
        self, request: config_pb2.GetStatsRequest, context: Context
    ) -> config_pb2.GetStatsResponse:
        if request.bucket_seconds < 0 or request.top < 0:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "bucket_seconds and top must not be negative"
            )
        return await asyncio.to_thread(self.store.run, stats.get_stats, request)

    # ---- export / import

    async def ExportData(
        self, request: config_pb2.ExportDataRequest, context: Context
    ) -> config_pb2.ExportDataResponse:
        document = await asyncio.to_thread(self.store.run, transfer.export_document)
        return config_pb2.ExportDataResponse(document=json.dumps(document, indent=1).encode())

    async def ImportData(
        self, request: config_pb2.ImportDataRequest, context: Context
    ) -> config_pb2.ImportDataResponse:
        actor = request.actor or "unknown"
        reply = await asyncio.to_thread(self.store.import_document, request.document, actor)
        if not reply.errors:
            log.info("data imported", extra={"actor": actor})
            await self.hub.refresh()
        return reply
