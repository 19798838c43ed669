"""The gateway's metrics tell the truth: zero from the start, refusals counted, requests and
tokens by model and team with bounded labels, build info and process_* on /metrics."""

from typing import cast

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gempool.api.config.v1 import config_pb2
from gempool.fakegemini.server import Running
from gempool.gateway import metrics as gm
from gempool.gateway.metrics import GatewayMetrics, Usage

from .conftest import FakeKeyPool
from .gateway_app import TOKEN, gateway_client

MODEL_URL = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"parts": [{"text": "one two three"}]}]}


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_known_label_values_start_at_zero() -> None:
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    for reason in ("starting", "missing_token", "invalid_token", "disabled_token"):
        assert registry.get_sample_value("gempool_gateway_refused_requests_total", {"reason": reason}) == 0
    for outcome in ("success", "transient", "key_retired"):
        assert registry.get_sample_value("gempool_gateway_upstream_attempts_total", {"outcome": outcome}) == 0
    labels = {"model": "gemini-2.5-flash", "result": "server_error"}
    assert registry.get_sample_value("gempool_gateway_model_requests_total", labels) == 0
    assert (
        registry.get_sample_value("gempool_gateway_team_tokens_total", {"team": "other", "direction": "out"})
        == 0
    )


def record(
    model: str, team: str, status: int = 200, tokens: tuple[int, int] = (0, 0)
) -> config_pb2.RequestLog:
    return config_pb2.RequestLog(
        model=model, token_name=team, status=status, tokens_in=tokens[0], tokens_out=tokens[1]
    )


def test_usage_counts_requests_errors_and_tokens_by_model_and_team() -> None:
    registry = CollectorRegistry()
    usage = Usage(registry)
    usage.know_teams(["team-a"])
    assert (
        registry.get_sample_value("gempool_gateway_team_requests_total", {"team": "team-a", "result": "ok"})
        == 0
    )
    usage.count(
        [
            record("models/gemini-2.5-pro", "team-a", tokens=(10, 20)),
            record("gemini-2.5-pro", "team-a", 429),
            record("gemini-2.5-pro", "allowed:sk-a...b9", 500),
        ]
    )

    def get(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"gempool_gateway_{name}_total", labels)

    assert get("model_requests", model="gemini-2.5-pro", result="ok") == 1
    assert get("model_requests", model="gemini-2.5-pro", result="rate_limited") == 1
    assert get("model_requests", model="gemini-2.5-pro", result="server_error") == 1
    assert get("team_requests", team="team-a", result="rate_limited") == 1
    assert get("team_requests", team="allowed_tokens", result="server_error") == 1, (
        "no masked secret as label"
    )
    assert get("model_tokens", model="gemini-2.5-pro", direction="in") == 10
    assert get("team_tokens", team="team-a", direction="out") == 20


def test_model_and_team_labels_are_bounded() -> None:
    registry = CollectorRegistry()
    usage = Usage(registry)
    # Names a client made up never answer 200: they share "other", however many there are.
    usage.count([record(f"junk-{n}", "team-a", 404) for n in range(500)])
    assert (
        registry.get_sample_value(
            "gempool_gateway_model_requests_total", {"model": "other", "result": "client_error"}
        )
        == 500
    )
    assert (
        registry.get_sample_value(
            "gempool_gateway_model_requests_total", {"model": "junk-1", "result": "client_error"}
        )
        is None
    )
    usage.count([record(f"real-{n}", f"team-{n}") for n in range(gm.MAX_TEAMS + 10)])
    models = {s.labels["model"] for f in registry.collect() for s in f.samples if "model" in s.labels}
    teams = {s.labels["team"] for f in registry.collect() for s in f.samples if "team" in s.labels}
    assert len(models) == gm.MAX_MODELS and "other" in models
    assert len(teams) == gm.MAX_TEAMS and "other" in teams


async def test_refusals_usage_build_info_and_process_metrics_on_metrics(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        assert (await gw.post(MODEL_URL, json=BODY)).status_code == 401
        assert (await gw.post(MODEL_URL, json=BODY, headers={"x-goog-api-key": "wrong"})).status_code == 401
        assert (await gw.post(MODEL_URL, json=BODY, headers={"x-goog-api-key": TOKEN})).status_code == 200
        app = cast(httpx.ASGITransport, gw._transport).app
        await app.state.rt.logs.flush()  # type: ignore[attr-defined]  # counted as records are batched
        samples = scrape((await gw.get("/metrics")).text)
    assert value(samples, "gempool_gateway_refused_requests_total", reason="missing_token") == 1
    assert value(samples, "gempool_gateway_refused_requests_total", reason="invalid_token") == 1
    assert value(samples, "gempool_gateway_model_requests_total", model="gemini-2.5-flash", result="ok") == 1
    assert value(samples, "gempool_gateway_model_tokens_total", model="gemini-2.5-flash", direction="in") > 0
    team = "allowed_tokens"
    assert value(samples, "gempool_gateway_team_requests_total", team=team, result="ok") == 1
    build = [labels for (name, labels) in samples if name == "gempool_build_info"]
    assert build and dict(build[0])["service"] == "gateway" and dict(build[0])["version"] != "unknown"
    assert value(samples, "process_resident_memory_bytes") > 0
