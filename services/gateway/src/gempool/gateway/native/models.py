"""The model list: the upstream's, cached and refreshed, minus FILTERED_MODELS, plus derived names.

Answers keep Google's shapes: ``{"models": [...], "nextPageToken": "..."}`` for the list and one
``Model`` object for ``GET models/{model}``.
"""

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from gempool.common.live import LiveSettings
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native.conveniences import IMAGE, NON_THINKING, SEARCH, parse_model
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

log = logging.getLogger(__name__)

UPSTREAM_PAGE = 1000
DEFAULT_PAGE, MAX_PAGE = 50, 1000
DESCRIPTIONS = {
    SEARCH: "with Google Search grounding",
    IMAGE: "with text and image output",
    NON_THINKING: "without thinking",
}
Model = dict[str, Any]


@dataclass
class _Entry:
    models: list[Model]
    fetched: float


@dataclass
class Catalog:
    """The upstream's models per API version, fetched at most once per refresh period."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def upstream_models(self, rt: Runtime, live: Live, version: str) -> list[Model] | Response:
        """Cached models, refreshed when stale; a failed refresh keeps serving the old list."""
        entry = self.entries.get(version)
        if entry is not None and time.monotonic() - entry.fetched < live.settings.MODEL_LIST_REFRESH_SECONDS:
            return entry.models
        async with self.locks.setdefault(version, asyncio.Lock()):
            entry = self.entries.get(version)
            if (
                entry is not None
                and time.monotonic() - entry.fetched < live.settings.MODEL_LIST_REFRESH_SECONDS
            ):
                return entry.models
            fetched = await _fetch(rt, live, version)
            if isinstance(fetched, Response):
                if entry is not None:
                    log.warning(
                        "model list refresh failed; serving the cached one", extra={"version": version}
                    )
                    return entry.models
                return fetched
            self.entries[version] = _Entry(fetched, time.monotonic())
            return fetched


_catalogs: "weakref.WeakKeyDictionary[Runtime, Catalog]" = weakref.WeakKeyDictionary()


def catalog(rt: Runtime) -> Catalog:
    """The runtime's model catalog (one per gateway process)."""
    found = _catalogs.get(rt)
    if found is None:
        found = _catalogs[rt] = Catalog()
    return found


async def _fetch(rt: Runtime, live: Live, version: str) -> list[Model] | Response:
    models: list[Model] = []
    token = ""
    while True:
        query = [("pageSize", str(UPSTREAM_PAGE))] + ([("pageToken", token)] if token else [])
        call = Call(
            Dialect.GEMINI, "gemini.models.fetch", "", f"/{version}/models", http_method="GET", query=query
        )
        response = await forward(rt, live, call)
        if response.status_code != 200:
            return response
        page = orjson.loads(bytes(response.body))
        models.extend(m for m in page.get("models") or [] if isinstance(m, dict))
        token = page.get("nextPageToken") or ""
        if not token:
            return models


def short_name(model: Model) -> str:
    return str(model.get("name", "")).removeprefix("models/")


def visible_models(upstream: list[Model], settings: LiveSettings) -> list[Model]:
    """The upstream list minus FILTERED_MODELS, each derived name right after its base model."""
    hidden = set(settings.FILTERED_MODELS)
    derived = {
        SEARCH: settings.SEARCH_MODELS,
        IMAGE: settings.IMAGE_MODELS,
        NON_THINKING: settings.THINKING_MODELS,
    }
    out: list[Model] = []
    for model in upstream:
        name = short_name(model)
        if name not in hidden:
            out.append(model)
        for suffix, bases in derived.items():
            if name in bases and f"{name}{suffix}" not in hidden:
                out.append(derived_model(model, suffix))
    return out


def derived_model(base: Model, suffix: str) -> Model:
    name = short_name(base)
    display = base.get("displayName") or name
    return base | {
        "name": f"models/{name}{suffix}",
        "displayName": f"{display} ({DESCRIPTIONS[suffix]})",
        "description": f"{name} {DESCRIPTIONS[suffix]}, served by gempool.",
    }


def page_of(models: list[Model], page_size: str, page_token: str) -> Model | None:
    """One page in Google's shape, or None when the page token is not one of ours."""
    try:
        size = int(page_size) if page_size else DEFAULT_PAGE
        start = int(page_token) if page_token else 0
    except ValueError:
        return None
    if start < 0 or start > len(models):
        return None
    size = DEFAULT_PAGE if size <= 0 else min(size, MAX_PAGE)
    page: Model = {"models": models[start : start + size]}
    if start + size < len(models):
        page["nextPageToken"] = str(start + size)
    return page


async def list_models(rt: Runtime, live: Live, version: str, page_size: str, page_token: str) -> Response:
    upstream = await catalog(rt).upstream_models(rt, live, version)
    if isinstance(upstream, Response):
        return upstream
    page = page_of(visible_models(upstream, live.settings), page_size, page_token)
    if page is None:
        return error_response(Dialect.GEMINI, 400, f"Invalid page token: {page_token!r}.")
    return Response(orjson.dumps(page), media_type="application/json")


async def get_derived_model(rt: Runtime, live: Live, version: str, name: str) -> Response | None:
    """A derived name's model object, or None when ``name`` is not derived (ask the upstream)."""
    variant = parse_model(name, live.settings)
    if not variant.derived:
        return None
    return await get_listed_model(rt, live, version, name)


async def get_listed_model(rt: Runtime, live: Live, version: str, name: str) -> Response:
    """``name``'s model object as the list shows it; Google's 404 when the list does not."""
    upstream = await catalog(rt).upstream_models(rt, live, version)
    if isinstance(upstream, Response):
        return upstream
    for model in visible_models(upstream, live.settings):
        if short_name(model) == name:
            return Response(orjson.dumps(model), media_type="application/json")
    message = f"models/{name} is not found for API version {version}."
    return error_response(Dialect.GEMINI, 404, message)
