"""KeyPoolService over gRPC: a thin layer over the pool, the listing and the prober."""

from collections.abc import AsyncIterator
from typing import Any

import grpc

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.api.keypool.v1 import keypool_pb2_grpc

from .listing import list_keys
from .pool import KeyPool
from .prober import Prober
from .session import serve_session


class KeyPoolServicer(keypool_pb2_grpc.KeyPoolServiceServicer):
    def __init__(self, pool: KeyPool, prober: Prober) -> None:
        self.pool, self.prober = pool, prober

    async def Lease(
        self, request: pb.LeaseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LeaseResponse:
        if request.want_key_id:
            return await self.pool.lease_key(request.want_key_id, request.model)
        return await self.pool.lease(request.model, request.pool, request.exclude_key_ids, request.tag)

    async def Report(
        self, request: pb.ReportRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReportResponse:
        return await self.pool.report(request)

    async def Session(
        self, request_iterator: AsyncIterator[pb.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SessionResponse]:
        async def lease(request: pb.LeaseRequest) -> pb.LeaseResponse:
            return await self.Lease(request, context)

        async for answer in serve_session(request_iterator, lease, self.pool.report):
            yield answer

    async def ReportBatch(
        self, request: pb.ReportBatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReportBatchResponse:
        await self.pool.report_many(request.reports)
        return pb.ReportBatchResponse(accepted=len(request.reports))

    async def ListKeys(
        self, request: pb.ListKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListKeysResponse:
        return await list_keys(self.pool.store, self.pool.records, self.pool.sorted_ids, request)

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
        return pb.ResetKeysResponse(reset=await self.pool.restore(list(ids), "reset by an admin"))
