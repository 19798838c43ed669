"""KeyPoolService over gRPC: a thin layer over the pool, the listing and the prober."""

from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import grpc

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.api.keypool.v1 import keypool_pb2_grpc

from .listing import list_keys
from .pool import KeyPool
from .prober import Prober
from .session import serve_session
from .store import UNREACHABLE
from .storewatch import StoreUnavailable, StoreWatch

T = TypeVar("T")

CATCH_UP_SECONDS = 5.0  # a list waits this long at most for the config service's latest keys


class KeyPoolServicer(keypool_pb2_grpc.KeyPoolServiceServicer):
    def __init__(self, pool: KeyPool, prober: Prober, watch: StoreWatch) -> None:
        self.pool, self.prober, self.watch = pool, prober, watch

    async def _guarded(self, call: Awaitable[T]) -> T:
        """The store's outage becomes one StoreUnavailable (the watch logs the incident once)."""
        try:
            return await call
        except UNREACHABLE:
            self.watch.suspect()
            raise StoreUnavailable("the key store (Redis) is unavailable") from None

    async def _or_abort(self, call: Awaitable[T], context: grpc.aio.ServicerContext[Any, Any]) -> T:
        """A unary RPC's answer, or UNAVAILABLE while the store cannot be reached."""
        try:
            return await self._guarded(call)
        except StoreUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))

    async def _lease(self, request: pb.LeaseRequest) -> pb.LeaseResponse:
        if request.want_key_id:
            return await self._guarded(self.pool.lease_key(request.want_key_id, request.model))
        leased = self.pool.lease(request.model, request.pool, request.exclude_key_ids, request.tag)
        return await self._guarded(leased)

    async def _report(self, request: pb.ReportRequest) -> pb.ReportResponse:
        return await self._guarded(self.pool.report(request))

    async def Lease(
        self, request: pb.LeaseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LeaseResponse:
        try:
            return await self._lease(request)
        except StoreUnavailable as exc:  # _lease guards already
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))

    async def Report(
        self, request: pb.ReportRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReportResponse:
        return await self._or_abort(self.pool.report(request), context)

    async def Session(
        self, request_iterator: AsyncIterator[pb.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SessionResponse]:
        async for answer in serve_session(request_iterator, self._lease, self._report):
            yield answer

    async def ReportBatch(
        self, request: pb.ReportBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReportBatchResponse:
        await self._or_abort(self.pool.report_many(request.reports), context)
        return pb.ReportBatchResponse(accepted=len(request.reports))

    async def ListKeys(
        self, request: pb.ListKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListKeysResponse:
        if request.min_keys_revision:
            await self.pool.caught_up(request.min_keys_revision, CATCH_UP_SECONDS)
        listed = list_keys(self.pool.store, self.pool.records, self.pool.sorted_ids, request)
        return await self._or_abort(listed, context)

    async def VerifyKeys(
        self, request: pb.VerifyKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.VerifyKeysResponse]:
        async for progress in self.prober.verify(request.key_ids, request.model, request.concurrency):
            yield progress

    async def ResetKeys(
        self, request: pb.ResetKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ResetKeysResponse:
        ids = (
            [k for k in request.key_ids if k in self.pool.records]
            if request.key_ids
            else self.pool.sorted_ids
        )
        reset = await self._or_abort(self.pool.restore(list(ids), "reset by an admin"), context)
        return pb.ResetKeysResponse(reset=reset)
