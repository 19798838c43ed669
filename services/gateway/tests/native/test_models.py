"""The model list: cache, filtering, derived names, paging."""

from typing import Any

import orjson

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.native import models
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool

UPSTREAM: list[dict[str, Any]] = [
    {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash", "inputTokenLimit": 1048576},
    {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro"},
    {"name": "models/old-model", "displayName": "Old"},
]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [m["name"].removeprefix("models/") for m in items]


def test_filtered_models_go_and_derived_names_follow_their_base() -> None:
    settings = LiveSettings(
        FILTERED_MODELS=["old-model", "gemini-2.5-pro-search"],
        SEARCH_MODELS=["gemini-2.5-flash", "gemini-2.5-pro"],
        THINKING_MODELS=["gemini-2.5-flash"],
        IMAGE_MODELS=["not-upstream"],
    )
    visible = models.visible_models(UPSTREAM, settings)
    assert names(visible) == [
        "gemini-2.5-flash",
        "gemini-2.5-flash-search",
        "gemini-2.5-flash-non-thinking",
        "gemini-2.5-pro",
    ]
    assert visible[1]["inputTokenLimit"] == 1048576, "a derived model keeps its base's limits"
    assert "Search" in visible[1]["displayName"]


def test_pages_in_googles_shape() -> None:
    items = [{"name": f"models/m{i}"} for i in range(5)]
    first = models.page_of(items, "2", "")
    assert first is not None and names(first["models"]) == ["m0", "m1"] and first["nextPageToken"] == "2"
    last = models.page_of(items, "2", "4")
    assert last is not None and names(last["models"]) == ["m4"] and "nextPageToken" not in last
    assert models.page_of(items, "", "") == {"models": items}
    assert models.page_of(items, "2", "garbage") is None


async def test_upstream_list_is_fetched_once_then_cached(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    live: Live = runtime.live  # type: ignore[assignment]
    first = await models.list_models(runtime, live, "v1beta", "1000", "")
    second = await models.list_models(runtime, live, "v1beta", "1000", "")
    assert first.status_code == second.status_code == 200
    listed = names(orjson.loads(bytes(second.body))["models"])
    assert "gemini-2.5-flash" in listed and "gemini-2.5-flash-search" in listed
    assert [c["method"] for c in upstream.fake.calls] == ["models.list"]


async def test_stale_list_is_refreshed_and_kept_when_the_refresh_fails(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    live = Live.build(runtime.live.settings.model_copy(update={"MODEL_LIST_REFRESH_SECONDS": 1e-6}))  # type: ignore[union-attr]
    assert (await models.list_models(runtime, live, "v1beta", "", "")).status_code == 200
    pool.keys = ["error500-1"]
    again = await models.list_models(runtime, live, "v1beta", "", "")
    assert again.status_code == 200 and orjson.loads(bytes(again.body))["models"]
    assert [c["method"] for c in upstream.fake.calls] == ["models.list", "models.list"]


async def test_derived_model_get(runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    live: Live = runtime.live  # type: ignore[assignment]
    found = await models.get_derived_model(runtime, live, "v1beta", "gemini-2.5-pro-search")
    assert found is not None and orjson.loads(bytes(found.body))["name"] == "models/gemini-2.5-pro-search"
    assert await models.get_derived_model(runtime, live, "v1beta", "gemini-2.5-pro") is None
