"""The key pool: records from the config service, shared state in a store, policy from classify."""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from gempool.api.config.v1 import config_pb2
from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.keys import mask
from gempool.common.live import LiveSettings
from gempool.common.scrub import scrub

from .classify import Action, Decision, Outcome, classify
from .metrics import Metrics
from .proxy import choose_proxy
from .records import POOL_NAMES, KeyRecord, build_rings, ring_name
from .store import Pick, Store
from .upstream import Change, UpstreamHealth, route_fault, route_name

log = logging.getLogger(__name__)
UNKNOWN_RETRIES = 3
# A key tagged "project:<id>" shares its daily quota with every key carrying the same tag.
PROJECT_TAG = "project:"


class StatusSink(Protocol):
    """Where durable key status changes go (the config service)."""

    async def set_status(self, key_id: str, status: config_pb2.KeyStatus.ValueType, reason: str) -> None: ...


class KeyPool:
    def __init__(
        self, store: Store, sink: StatusSink, metrics: Metrics, live: LiveSettings | None = None
    ) -> None:
        self.store, self.sink, self.metrics = store, sink, metrics
        self.live = live or LiveSettings()
        self.proxies: tuple[str, ...] = tuple(self.live.PROXIES)
        self.records: dict[str, KeyRecord] = {}
        self.sorted_ids: list[str] = []
        self.revision = -1
        self.upstream = UpstreamHealth()
        self._loaded = asyncio.Condition()
        self._reported_ok = metrics.reports.labels("VERDICT_SUCCESS", "ok")
        self._rebuilding = asyncio.Lock()

    def apply_settings(self, live: LiveSettings) -> None:
        self.live, self.proxies = live, tuple(live.PROXIES)

    async def load(self, records: Sequence[KeyRecord], revision: int) -> None:
        """Adopt the config service's key list (at ``revision``) and share its rings.

        The new keys are listed only once the rings hold them, so a key ListKeys shows can be
        leased; while the rings change, a lease may get an old or a new key and knows both.
        """
        adopted = {r.key_id: r for r in records}
        self.records = self.records | adopted
        await self._forget_stale_marks(adopted)
        await self.store.sync_rings(revision, build_rings(adopted.values()))
        self.records, self.sorted_ids, self.revision = adopted, sorted(adopted), revision
        self.metrics.reloads.inc()
        async with self._loaded:
            self._loaded.notify_all()

    async def caught_up(self, keys_revision: int, timeout: float) -> bool:
        """Wait until the keys at ``keys_revision`` (or later) are loaded: an admin's change is in the
        very next list. False when they are not after ``timeout`` (the list then shows what is loaded)."""
        if self.revision >= keys_revision:
            return True
        try:
            async with asyncio.timeout(timeout), self._loaded:
                await self._loaded.wait_for(lambda: self.revision >= keys_revision)
        except TimeoutError:
            return False
        return True

    async def rebuild(self) -> bool:
        """Write the rings again from the records held here when the store has lost them (a Redis
        restart, a flush): True when this call rebuilt them.

        Idempotent across replicas: every replica builds the same rings from the same records, and
        the store refuses a revision older than the one written. Cooldowns are gone with the store;
        retired keys stay out, as their records say (or this replica marked them).
        """
        async with self._rebuilding:
            if self.revision < 0 or await self.store.intact():
                return False  # nothing loaded yet, or rebuilt meanwhile (here or by another replica)
            await self.store.sync_rings(self.revision, build_rings(self.records.values()))
        self.metrics.rebuilds.inc()
        log.warning(
            "key store had lost the rings; rebuilt them from the key records",
            extra={"keys": len(self.records), "keys_revision": self.revision},
        )
        return True

    async def _forget_stale_marks(self, records: dict[str, KeyRecord]) -> None:
        """Drop retirement marks of keys re-enabled in the config service since, or removed."""
        stale = []
        for key_id, mark in (await self.store.retired_marks()).items():
            rec = records.get(key_id)
            if rec is None or (rec.active and rec.changed_at > mark.at):
                stale.append(key_id)
        if stale:
            await self.store.clear(stale)

    # ---- lease

    async def lease(
        self, model: str, pool: pb.Pool.ValueType, exclude: Sequence[str], tag: str = ""
    ) -> pb.LeaseResponse:
        """Round robin for a first attempt; a retry (``exclude`` given) prefers keys proven for ``model``."""
        ring, skip, retry = ring_name(pool, tag), list(exclude), bool(exclude)
        for _ in range(UNKNOWN_RETRIES):
            pick = await self.store.lease(ring, model, skip, retry)
            if pick.lost:  # the store lost its state (a Redis restart): rebuild, then lease again
                await self.rebuild()
                pick = await self.store.lease(ring, model, skip, retry)
            rec = self.records.get(pick.key_id) if pick.key_id else None
            if pick.key_id is None or (rec is not None and rec.active):
                break
            skip.append(pick.key_id)  # a ring written by a replica that saw newer records
        if rec is None or not rec.active:
            return self._exhausted(pool, model, tag, pick)
        return self._leased(rec)

    def _leased(self, rec: KeyRecord) -> pb.LeaseResponse:
        self.metrics.leases.labels(POOL_NAMES[rec.pool], "ok").inc()
        proxy = self.proxy_for(rec.key_id)
        return pb.LeaseResponse(lease=pb.Lease(key_id=rec.key_id, api_key=rec.api_key, proxy=proxy))

    def proxy_for(self, key_id: str) -> str:
        """The outbound proxy the key's calls leave through (empty: direct)."""
        return choose_proxy(key_id, self.proxies, self.live.PROXIES_USE_CONSISTENCY_HASH_BY_API_KEY)

    async def lease_key(self, key_id: str, model: str) -> pb.LeaseResponse:
        """That one key (the owner of an uploaded file) when it is active and not cooling for ``model``."""
        rec = self.records.get(key_id)
        pick = await self.store.check(key_id, model) if rec is not None and rec.active else Pick(None)
        if rec is not None and pick.key_id is not None:
            return self._leased(rec)
        self.metrics.leases.labels(
            POOL_NAMES[rec.pool if rec else pb.POOL_UNSPECIFIED], "wanted_unavailable"
        ).inc()
        if not pick.cooling:
            message = "the key that holds this file is no longer in the pool"
            return pb.LeaseResponse(exhausted=pb.Exhausted(message=message))
        wait = max(pick.retry_after, 0.001)
        message = f"the key that holds this file cools for {model}; retry in {wait:.1f}s"
        return pb.LeaseResponse(exhausted=pb.Exhausted(retry_after_seconds=wait, message=message))

    def _exhausted(self, pool: pb.Pool.ValueType, model: str, tag: str, pick: Pick) -> pb.LeaseResponse:
        where = f"{POOL_NAMES[pool]} pool" + (f" with tag {tag!r}" if tag else "")
        if pick.cooling:
            result, wait = "cooling", max(pick.retry_after, 0.001)
            message = f"every key of the {where} cools for {model}; retry in {wait:.1f}s"
        else:
            result, wait = "empty", 0.0
            message = f"no active key in the {where}"
        self.metrics.leases.labels(POOL_NAMES[pool], result).inc()
        return pb.LeaseResponse(exhausted=pb.Exhausted(retry_after_seconds=wait, message=message))

    # ---- report

    async def report(self, req: pb.ReportRequest) -> pb.ReportResponse:
        if _plain_success(req):
            await self.store.success(req.key_id, req.model)  # the hot path: no parsing, no clock
            self._reported_ok.inc()
            if self.upstream.routes:  # only while some route has failed lately
                self._route_answered(req.proxy)
            return pb.ReportResponse(verdict=pb.VERDICT_SUCCESS, reason="ok")
        outcome = Outcome(req.http_status, req.error_body, req.transport, req.empty_answer)
        now = datetime.now(UTC)
        decision = classify(outcome, now=now, default_cooldown=self.live.COOLDOWN_DEFAULT_SECONDS)
        decision = self._scrubbed(req.key_id, decision)
        decision = await self._apply(req.key_id, req.model, decision)
        decision = self._judge_route(req.proxy, route_fault(outcome), decision)
        self.metrics.reports.labels(pb.Verdict.Name(decision.verdict), decision.kind).inc()  # type: ignore[arg-type]
        return pb.ReportResponse(
            verdict=decision.verdict,  # type: ignore[arg-type]
            retry=decision.retry,
            cooldown_seconds=decision.cooldown_seconds,
            reason=decision.reason,
        )

    def _scrubbed(self, key_id: str, decision: Decision) -> Decision:
        """The reason is stored, shown in the panel and logged: Google may have quoted the key."""
        rec = self.records.get(key_id)
        reason = scrub(decision.reason, rec.api_key if rec else "")
        return decision if reason == decision.reason else dataclasses.replace(decision, reason=reason)

    async def report_many(self, reports: Sequence[pb.ReportRequest]) -> None:
        """Apply outcomes in order: each run of plain successes in one store call, others one by one."""
        run: list[tuple[str, str]] = []
        for req in reports:
            if _plain_success(req):
                run.append((req.key_id, req.model))
                if self.upstream.routes:
                    self._route_answered(req.proxy)
                continue
            await self._successes(run)
            run = []
            await self.report(req)
        await self._successes(run)

    async def _successes(self, run: list[tuple[str, str]]) -> None:
        if run:
            await self.store.success_many(run)
            self._reported_ok.inc(len(run))

    async def _apply(self, key_id: str, model: str, decision: Decision) -> Decision:
        if decision.verdict == pb.VERDICT_SUCCESS:
            await self.store.success(key_id, model)
        elif decision.action is Action.COOL:
            seconds, reason = decision.cooldown_seconds, decision.reason
            cooled = await self.store.cool(key_id, model, seconds, reason, decision.backoff_cap)
            self.metrics.cooldowns.labels(decision.kind).inc()
            if decision.kind == "daily_quota":
                await self._park_project(key_id, model, seconds, reason)
            return dataclasses.replace(decision, cooldown_seconds=cooled)
        elif decision.action is Action.RETIRE:
            await self.retire(key_id, decision.reason, decision.kind)
        elif decision.action is Action.FAIL:
            await self.store.failure(key_id, decision.reason)  # shown in the panel; never retires
        return decision

    # ---- the way to the upstream (see upstream.py)

    def _judge_route(self, proxy: str, fault: bool | None, decision: Decision) -> Decision:
        """Count a route failure; while the route is down a request stops trying other keys."""
        route = route_name(proxy)
        if fault is None:
            return decision
        if not fault:
            self._route_answered(proxy)
            return decision
        if self.upstream.failed(route, time.time(), self.live.MAX_FAILURES) is Change.DOWN:
            self.metrics.upstream_up.labels(route).set(0)
            log.error(
                "upstream unreachable; keys are not blamed", extra={"route": route, "last": decision.reason}
            )
        if not self.upstream.is_down(route):
            return decision
        reason = f"{decision.reason}; the upstream is unreachable ({route}), not trying other keys"
        return dataclasses.replace(decision, retry=False, reason=reason)

    def _route_answered(self, proxy: str) -> None:
        route = route_name(proxy)
        back = self.upstream.answered(route, time.time())
        if back is not None:
            self.metrics.upstream_up.labels(route).set(1)
            log.warning(
                "upstream reachable again",
                extra={"route": route, "down_seconds": round(time.time() - back[1], 1)},
            )

    async def _park_project(self, key_id: str, model: str, seconds: float, reason: str) -> None:
        """Keys of one Google project share its daily quota: park every key tagged with the project."""
        rec = self.records.get(key_id)
        projects = {t for t in (rec.tags if rec else ()) if t.startswith(PROJECT_TAG)}
        if not projects:
            return
        siblings = [r.key_id for r in self.records.values() if r.key_id != key_id and projects & set(r.tags)]
        for sibling in siblings:
            await self.store.cool(sibling, model, seconds, f"{reason} (same project)", 0.0)
        if siblings:
            self.metrics.cooldowns.labels("daily_quota_project").inc(len(siblings))

    # ---- status changes

    async def retire(self, key_id: str, reason: str, kind: str) -> None:
        """Stop leasing the key on every replica at once, then record it durably."""
        rec = self.records.get(key_id)
        reason = scrub(reason, rec.api_key if rec else "")
        if not await self.store.retire(key_id, reason):
            return
        if rec is not None:
            rec.status, rec.reason = config_pb2.KEY_STATUS_RETIRED, reason
        self.metrics.retirements.labels(kind).inc()
        log.warning("key retired", extra={"key": mask(rec.api_key) if rec else key_id, "reason": reason})
        await self.sink.set_status(key_id, config_pb2.KEY_STATUS_RETIRED, reason)

    async def restore(self, key_ids: Sequence[str], reason: str) -> int:
        """Clear failures, cooldowns and retirement; retired keys become active (disabled ones stay)."""
        marks = await self.store.retired_marks()
        await self.store.clear(key_ids)
        revived = [k for k in key_ids if k in marks or self._is_retired(k)]
        for key_id in revived:
            rec = self.records.get(key_id)
            if rec is not None:
                rec.status, rec.reason = config_pb2.KEY_STATUS_ACTIVE, ""
            await self.sink.set_status(key_id, config_pb2.KEY_STATUS_ACTIVE, reason)
        if revived:
            self.metrics.restorations.inc(len(revived))
            await self.store.sync_rings(self.revision, build_rings(self.records.values()))
        return len(key_ids)

    def _is_retired(self, key_id: str) -> bool:
        rec = self.records.get(key_id)
        return rec is not None and rec.status == config_pb2.KEY_STATUS_RETIRED

    async def retired_ids(self) -> list[str]:
        """Keys retired here (store marks) or in the config service."""
        marks = await self.store.retired_marks()
        return [k for k in self.sorted_ids if k in marks or self._is_retired(k)]


def _plain_success(req: pb.ReportRequest) -> bool:
    return req.http_status == 200 and not req.empty_answer and req.transport == pb.TRANSPORT_OK
