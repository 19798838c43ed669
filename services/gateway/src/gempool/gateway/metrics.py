"""The gateway's Prometheus metrics (one registry, names prefixed ``gempool_gateway_``).

Labelled counters are created at zero for every label value known in advance, so the first event
shows in ``rate()`` and ``increase()``. Model and team labels are bounded: see ``Usage``.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from gempool.api.config.v1 import config_pb2

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Upstream attempt outcomes: "success" and the keypool's verdicts (keypool.proto), lower case.
ATTEMPT_OUTCOMES = ("success", "client_error", "key_retired", "key_cooling", "transient", "unspecified")
# Requests answered before the pool is asked: no settings yet, or a missing or wrong client token.
# admin_token: the admin token sent as a client token; locked_out: an address over CLIENT_AUTH_MAX_FAILURES
REFUSALS = ("starting", "missing_token", "invalid_token", "disabled_token", "admin_token", "locked_out")
STREAM_CUTS = ("upstream", "timeout", "shutdown")  # see pipeline.streamend
ADMIN_VIA = ("login", "bearer")


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "gempool_gateway_requests", "Client requests answered", ["route", "status"], registry=registry
        )
        self.seconds = Histogram(
            "gempool_gateway_request_seconds",
            "Time to the first byte of the answer",
            ["route"],
            registry=registry,
            buckets=BUCKETS,
        )
        self.attempts = Counter(
            "gempool_gateway_upstream_attempts",
            "Upstream attempts by outcome",
            ["outcome"],
            registry=registry,
        )
        self.retries = Histogram(
            "gempool_gateway_retries_per_request",
            "Extra attempts a request needed",
            registry=registry,
            buckets=(0, 1, 2, 3, 5, 10),
        )
        self.streams_cut = Counter(
            "gempool_gateway_streams_cut",
            "Streams that began and then ended with an error event (upstream cut or silent, shutdown)",
            ["reason"],
            registry=registry,
        )
        self.refused = Counter(
            "gempool_gateway_refused_requests",
            "Model requests refused before reaching the pool (503 starting, 401/403 token, 429 locked out)",
            ["reason"],
            registry=registry,
        )
        self._admin(registry)
        self.usage = Usage(registry)
        for outcome in ATTEMPT_OUTCOMES:
            self.attempts.labels(outcome)
        for reason in REFUSALS:
            self.refused.labels(reason)
        for reason in STREAM_CUTS:
            self.streams_cut.labels(reason)

    def _admin(self, registry: CollectorRegistry) -> None:
        self.admin_failures = Counter(
            "gempool_gateway_admin_auth_failures",
            "Wrong admin tokens sent to the login or as a Bearer",
            ["via"],
            registry=registry,
        )
        self.admin_lockouts = Counter(
            "gempool_gateway_admin_lockouts",
            "Client addresses locked out of admin sign-in after too many wrong tokens",
            registry=registry,
        )
        self.client_auth_lockouts = Counter(
            "gempool_gateway_client_auth_lockouts",
            "Client addresses locked out of the model API after too many wrong tokens",
            registry=registry,
        )
        self.client_auth_redis_errors = Counter(
            "gempool_gateway_client_auth_redis_errors",
            "Wrong-token counts that could not reach Redis (this replica's memory counted)",
            registry=registry,
        )
        self.admin_redis_errors = Counter(
            "gempool_gateway_admin_redis_errors",
            "Admin sign-in checks that could not reach Redis (this replica's memory answered)",
            registry=registry,
        )
        for via in ADMIN_VIA:
            self.admin_failures.labels(via)


# Models every deployment is likely to serve: their series exist (at zero) from the start.
KNOWN_MODELS = (
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-embedding-001",
)
MAX_MODELS = 50  # distinct model label values; later ones are "other"
MAX_TEAMS = 200  # distinct team label values; later ones are "other"
RESULTS = ("ok", "client_error", "rate_limited", "server_error")
DIRECTIONS = ("in", "out")


def result_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "client_error" if status < 500 else "server_error"


def team_of(token_name: str) -> str:
    """The team label of a request log's token name. ALLOWED_TOKENS entries have no team name
    (their name holds a masked secret), so they share one label."""
    if token_name.startswith("allowed:"):
        return "allowed_tokens"
    return token_name or "anonymous"


class Usage:
    """Requests, errors and tokens by model and by team, counted from request log records.

    Counted as records are batched for the config service (off the request path). A model gets
    its own label once it answered 200 (so made-up names sent by clients cannot fill the set) and
    while fewer than MAX_MODELS have one; teams are the token records' names, MAX_TEAMS at most.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        p = "gempool_gateway"
        self.model_requests = Counter(
            f"{p}_model_requests", "Requests by model and result", ["model", "result"], registry=registry
        )
        self.team_requests = Counter(
            f"{p}_team_requests", "Requests by team (token) and result", ["team", "result"], registry=registry
        )
        self.model_tokens = Counter(
            f"{p}_model_tokens",
            "Tokens by model, in (prompt) and out",
            ["model", "direction"],
            registry=registry,
        )
        self.team_tokens = Counter(
            f"{p}_team_tokens",
            "Tokens by team, in (prompt) and out",
            ["team", "direction"],
            registry=registry,
        )
        self._models: set[str] = set()
        self._teams: set[str] = set()
        self.know_models(KNOWN_MODELS)
        self._add_model("other")
        self._add_team("other")

    def know_models(self, models: Iterable[str]) -> None:
        for model in models:
            if model and len(self._models) < MAX_MODELS:
                self._add_model(model.removeprefix("models/"))

    def know_teams(self, names: Iterable[str]) -> None:
        for name in names:
            if len(self._teams) < MAX_TEAMS:
                self._add_team(team_of(name))

    def _add_model(self, model: str) -> None:
        if model not in self._models:
            self._models.add(model)
            for result in RESULTS:
                self.model_requests.labels(model, result)
            for direction in DIRECTIONS:
                self.model_tokens.labels(model, direction)

    def _add_team(self, team: str) -> None:
        if team not in self._teams:
            self._teams.add(team)
            for result in RESULTS:
                self.team_requests.labels(team, result)
            for direction in DIRECTIONS:
                self.team_tokens.labels(team, direction)

    def model_label(self, model: str, status: int) -> str:
        model = model.removeprefix("models/")
        if model not in self._models and status == 200 and len(self._models) < MAX_MODELS:
            self._add_model(model)
        return model if model in self._models else "other"

    def team_label(self, token_name: str) -> str:
        team = team_of(token_name)
        if team not in self._teams and len(self._teams) < MAX_TEAMS:
            self._add_team(team)
        return team if team in self._teams else "other"

    def count(self, records: Iterable[config_pb2.RequestLog]) -> None:
        for record in records:
            model = self.model_label(record.model, record.status)
            team = self.team_label(record.token_name)
            result = result_of(record.status)
            self.model_requests.labels(model, result).inc()
            self.team_requests.labels(team, result).inc()
            if record.tokens_in or record.tokens_out:
                for direction, tokens in (("in", record.tokens_in), ("out", record.tokens_out)):
                    self.model_tokens.labels(model, direction).inc(tokens)
                    self.team_tokens.labels(team, direction).inc(tokens)
