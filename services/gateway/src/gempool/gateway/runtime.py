"""What the gateway knows at run time: live settings, tokens, channels and clients."""

import fnmatch
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from redis import asyncio as aioredis

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.imagehost.v1 import imagehost_pb2_grpc
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common import internalauth
from gempool.common.live import LiveSettings
from gempool.common.logs import set_level
from gempool.gateway.access.auth import TokenSet
from gempool.gateway.access.clientthrottle import ClientLockouts
from gempool.gateway.access.loginthrottle import LoginThrottle, MemoryThrottle, make_throttle
from gempool.gateway.access.ratelimit import make_limiter
from gempool.gateway.access.tokens import Callers
from gempool.gateway.admin.sessioncache import Revocations, SessionCache
from gempool.gateway.logs.ship import LogShipper
from gempool.gateway.logs.spool import Spool
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.native.files.store import store as file_store
from gempool.gateway.native.files.sync import FileMirror
from gempool.gateway.pipeline.poolclient import PoolClient
from gempool.gateway.pipeline.reporter import Reporter
from gempool.gateway.pipeline.upstream import UpstreamClients, api_root
from gempool.gateway.settings import GatewaySettings
from gempool.gateway.shutdown import Drain

log = logging.getLogger(__name__)


@dataclass
class Live:
    """Everything derived from one settings snapshot, swapped as a whole on change."""

    settings: LiveSettings
    callers: Callers  # every client token: records, ALLOWED_TOKENS, the admin token
    admin_tokens: TokenSet
    root: str
    revision: int = 0
    _model_tags: dict[str, str] = field(default_factory=dict)

    def model_tag(self, model: str) -> str:
        """The key tag MODEL_KEY_TAGS binds ``model`` to ("" for any key), remembered per model."""
        if not self.settings.MODEL_KEY_TAGS:
            return ""
        tag = self._model_tags.get(model)
        if tag is None:
            patterns = self.settings.MODEL_KEY_TAGS
            tag = next((str(t) for p, t in patterns.items() if fnmatch.fnmatchcase(model, p)), "")
            self._model_tags[model] = tag
        return tag

    @classmethod
    def build(
        cls, settings: LiveSettings, revision: int = 0, tokens: Sequence[config_pb2.ClientToken] = ()
    ) -> "Live":
        return cls(
            settings=settings,
            callers=Callers(tokens, settings.ALLOWED_TOKENS, settings.AUTH_TOKEN),
            admin_tokens=TokenSet([settings.AUTH_TOKEN]),
            root=api_root(settings.BASE_URL),
            revision=revision,
        )


class Runtime:
    """Created with the app; ``open()`` (in the lifespan) connects it, ``close()`` lets go."""

    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.live: Live | None = None
        self._channels: list[grpc.aio.Channel] = []
        self.redis: aioredis.Redis | None = None  # request limits, admin sign-ins and sessions
        self.login_throttle: LoginThrottle = MemoryThrottle()
        self.client_lockouts = ClientLockouts(MemoryThrottle(), metrics)
        self.admin_sessions = SessionCache()
        self.drain = Drain(settings.GATEWAY_SHUTDOWN_GRACE_SECONDS, metrics.registry)

    async def open(self) -> None:
        # round_robin spreads calls over every address a name resolves to (a headless Service).
        # Keepalive pings find a connection that died without a word (a node gone), which would
        # otherwise hold the keypool Session stream open forever and time out every request on it;
        # a short reconnect backoff finds a restarted keypool within a lease's timeout. Connections
        # are this runtime's own: gRPC otherwise shares them process-wide by address, and a new
        # runtime would inherit a dead server's connection, failing and backing off.
        options = [
            ("grpc.max_receive_message_length", 32 * 1024 * 1024),
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ]
        token = self.settings.INTERNAL_TOKEN  # every call carries it: the services refuse calls without it
        self.keypool_channel = internalauth.channel(self.settings.KEYPOOL_ADDR, token, options)
        self.config_channel = internalauth.channel(self.settings.CONFIG_ADDR, token, options)
        self.imagehost_channel = internalauth.channel(self.settings.IMAGEHOST_ADDR, token, options)
        self._channels = [self.keypool_channel, self.config_channel, self.imagehost_channel]
        self.keypool = keypool_pb2_grpc.KeyPoolServiceStub(self.keypool_channel)
        self.imagehost = imagehost_pb2_grpc.ImageHostServiceStub(self.imagehost_channel)
        self.upstream = UpstreamClients(self.settings.UPSTREAM_MAX_CONNECTIONS)
        self.pool = PoolClient(self.keypool, streams=self.settings.KEYPOOL_STREAMS)
        self.reporter = Reporter(self.keypool)
        self.reporter.start()
        self.config = config_pb2_grpc.ConfigServiceStub(self.config_channel)
        spool_dir, registry = self.settings.LOG_SPOOL_DIR, self.metrics.registry
        self.logs = LogShipper(
            self.config,
            registry,
            interval=self.settings.LOG_FLUSH_SECONDS,
            capacity=self.settings.LOG_BUFFER_MAX,
            spool=Spool(Path(spool_dir), self.settings.LOG_SPOOL_MAX_MB << 20, registry)
            if spool_dir
            else None,
            spool_after=self.settings.LOG_SPOOL_AFTER_SECONDS,
            usage=self.metrics.usage,
        )
        self.logs.start()
        redis_url, prefix = self.settings.REDIS_URL, self.settings.REDIS_PREFIX
        if redis_url:
            self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.limiter = make_limiter(self.redis, prefix, self.metrics.registry)
        self.file_mirror = FileMirror(file_store(self), redis_url, prefix) if redis_url else None
        if self.file_mirror is not None:
            self.file_mirror.start()
        self._open_admin(prefix)

    def _open_admin(self, prefix: str) -> None:
        """Wrong admin and API tokens, ended sessions: shared through Redis when there is one."""
        self.login_throttle = make_throttle(self.redis, prefix, self.metrics)
        self.client_lockouts = ClientLockouts(
            make_throttle(self.redis, prefix, self.metrics, "client"), self.metrics
        )
        revocations = Revocations(self.redis, prefix, self.metrics) if self.redis is not None else None
        self.admin_sessions = SessionCache(revocations)

    async def close(self) -> None:
        self.drain.close()
        await self.reporter.close()
        await self.pool.close()
        await self.logs.close()
        await self.limiter.aclose()
        if self.file_mirror is not None:
            await self.file_mirror.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.upstream.aclose()
        for channel in self._channels:
            await channel.close()

    async def apply(self, snapshot: config_pb2.SettingsSnapshot) -> None:
        try:
            settings = LiveSettings.from_wire(snapshot.values)
        except ValueError:
            log.exception("ignoring an invalid settings snapshot", extra={"revision": snapshot.revision})
            return
        previous = self.live
        self.live = Live.build(settings, snapshot.revision, snapshot.tokens)
        self.metrics.usage.know_teams(token.name for token in snapshot.tokens)  # at zero from now
        if previous is None or previous.settings.LOG_LEVEL != settings.LOG_LEVEL:
            set_level(settings.LOG_LEVEL)
        if previous is not None and previous.settings.AUTH_TOKEN != settings.AUTH_TOKEN:
            self.admin_sessions.clear()  # the config service ended every session with the old token
        log.info("settings applied", extra={"revision": snapshot.revision, "tokens": len(self.live.callers)})
