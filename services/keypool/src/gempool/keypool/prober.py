"""Probing keys with a tiny request: retired keys that answer again come back by themselves."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import mask
from gempool.common.scrub import scrub

from .classify import Action, Decision, Outcome, classify
from .pool import KeyPool
from .records import KeyRecord
from .store import UNREACHABLE

log = logging.getLogger(__name__)
PROBE_BODY = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "generationConfig": {"maxOutputTokens": 1},
}
LOCK = "prober"
PROBE_TIMEOUT = 30.0
ClientFor = Callable[[str], httpx.AsyncClient]


def utcnow() -> datetime:
    return datetime.now(UTC)


def proxied_client(proxy: str) -> httpx.AsyncClient:
    """A client whose requests leave through ``proxy`` (http://, https://, socks5://)."""
    return httpx.AsyncClient(proxy=proxy, timeout=PROBE_TIMEOUT)


def api_root(base_url: str) -> str:
    """BASE_URL without a trailing /v1beta or /v1."""
    url = base_url.rstrip("/")
    for suffix in ("/v1beta", "/v1"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


class Prober:
    """Probes each key through its own proxy (the one its leases carry), like the gateway's calls.

    ``http`` serves keys without a proxy; ``client_for(proxy)`` opens one client per proxy for a run.
    """

    def __init__(
        self,
        pool: KeyPool,
        http: httpx.AsyncClient,
        concurrency: int = 10,
        tick: float = 60.0,
        client_for: ClientFor = proxied_client,
    ) -> None:
        self.pool, self.http, self.concurrency, self.tick = pool, http, concurrency, tick
        self.client_for = client_for

    async def probe(self, rec: KeyRecord, model: str, http: httpx.AsyncClient) -> Decision:
        """What the key's answer to a tiny call (asked through ``http``) means, as the pool's policy says."""
        url = f"{api_root(self.pool.live.BASE_URL)}/v1beta/models/{model}:generateContent"
        try:
            resp = await http.post(url, headers={"x-goog-api-key": rec.api_key}, json=PROBE_BODY)
        except httpx.HTTPError as exc:
            timeout = isinstance(exc, httpx.TimeoutException)
            transport = pb.TRANSPORT_TIMEOUT if timeout else pb.TRANSPORT_CONNECT_ERROR
            failed = classify(Outcome(0, transport=transport), now=utcnow(), default_cooldown=0)
            return replace(failed, reason=f"{failed.reason}: {type(exc).__name__}")
        outcome = Outcome(resp.status_code, resp.content if resp.status_code != 200 else b"")
        return classify(outcome, now=utcnow(), default_cooldown=self.pool.live.COOLDOWN_DEFAULT_SECONDS)

    async def verify(
        self, key_ids: Sequence[str], model: str = "", concurrency: int = 0
    ) -> AsyncIterator[pb.VerifyKeysResponse]:
        """Probe keys (default: every retired key), restore those that answer, report each one."""
        retired = await self.pool.retired_ids()
        ids = list(key_ids) or retired
        model = model or self.pool.live.TEST_MODEL
        gate = asyncio.Semaphore(concurrency or self.concurrency)
        restore = set(retired)
        async with self._routes(ids) as route:
            tasks = [
                asyncio.create_task(self._verify_one(key_id, route[key_id], model, gate, key_id in restore))
                for key_id in ids
            ]
            try:
                for done, next_result in enumerate(asyncio.as_completed(tasks), start=1):
                    result = await next_result
                    result.done, result.total = done, len(ids)
                    yield result
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)  # before their clients close

    @contextlib.asynccontextmanager
    async def _routes(self, ids: Sequence[str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
        """Each key's client: one per proxy these keys leave through, the direct one for none."""
        proxy_of = {key_id: self.pool.proxy_for(key_id) for key_id in ids}
        async with contextlib.AsyncExitStack() as stack:
            clients = {"": self.http}
            for proxy in sorted(set(proxy_of.values()) - {""}):
                clients[proxy] = await stack.enter_async_context(self.client_for(proxy))
            yield {key_id: clients[proxy] for key_id, proxy in proxy_of.items()}

    async def _verify_one(
        self, key_id: str, http: httpx.AsyncClient, model: str, gate: asyncio.Semaphore, retired: bool
    ) -> pb.VerifyKeysResponse:
        """Probe one key; one that answers comes back, one the answer condemns is retired with why."""
        rec = self.pool.records.get(key_id)
        if rec is None:
            return pb.VerifyKeysResponse(key_id=key_id, error="unknown key")
        async with gate:
            decision = await self.probe(rec, model, http)
        ok = decision.verdict == pb.VERDICT_SUCCESS
        if retired and ok:
            await self.pool.restore([key_id], f"probe with {model} answered")
        why = scrub(decision.reason, rec.api_key)[:200]  # an upstream that echoes the key never shows it
        condemned = decision.action is Action.RETIRE and rec.status != config_pb2.KEY_STATUS_DISABLED
        if condemned and not retired:
            await self.pool.retire(key_id, f"verify: {why}", decision.kind)
        error = "" if ok else why
        return pb.VerifyKeysResponse(
            key_id=key_id, ok=ok, error=error, retired=condemned, masked=mask(rec.api_key)
        )

    async def sweep(self) -> tuple[int, int]:
        """Probe every retired key once; returns (probed, restored)."""
        probed = restored = 0
        async for result in self.verify([]):
            probed, restored = probed + 1, restored + result.ok
        if probed:
            log.info("probed retired keys", extra={"probed": probed, "restored": restored})
        return probed, restored

    async def run(self) -> None:
        """Sweep every CHECK_INTERVAL_HOURS (read live); across replicas one sweep per interval."""
        while True:
            interval = self.pool.live.CHECK_INTERVAL_HOURS * 3600
            try:
                if await self.pool.store.claim(LOCK, interval):
                    await self.sweep()
            except UNREACHABLE:
                pass  # the store watch tells about it, once
            except Exception:
                log.exception("probe sweep failed")
            await asyncio.sleep(min(self.tick, interval))
