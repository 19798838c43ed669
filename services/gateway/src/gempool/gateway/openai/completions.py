"""``POST /v1/chat/completions``: translate, apply the model conveniences, forward, translate back."""

from typing import Any

import orjson
from starlette.responses import Response

from gempool.gateway.errors import Dialect
from gempool.gateway.native.conveniences import apply_conveniences
from gempool.gateway.native.files.store import store
from gempool.gateway.openai import images, legacy
from gempool.gateway.openai.adapters import ChatAdapter
from gempool.gateway.openai.answers import View
from gempool.gateway.openai.chat import BadRequest, remote_urls, to_gemini
from gempool.gateway.openai.failures import bad_request
from gempool.gateway.openai.media import fetch_all
from gempool.gateway.openai.schemas import ChatCompletionRequest
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime


def chat_call(live: Live, body: ChatCompletionRequest, gemini: dict[str, Any]) -> Call:
    """The upstream call for a translated chat request (conveniences applied)."""
    model, gemini = apply_conveniences(body.model.removeprefix("models/"), gemini, live.settings)
    stream = bool(body.stream)
    method = "streamGenerateContent" if stream else "generateContent"
    return Call(
        Dialect.OPENAI,
        "openai.chat",
        model,
        f"/v1beta/models/{model}:{method}",
        body=orjson.dumps(gemini),
        query=[("alt", "sse")] if stream else [],
        headers={"content-type": "application/json"},
        stream=stream,
        sse=stream,
        check_empty=True,
    )


def view_of(live: Live, body: ChatCompletionRequest) -> View:
    settings = live.settings
    include_usage = bool(body.stream and body.stream_options and body.stream_options.include_usage)
    return View(
        model=body.model,
        show_thinking=settings.SHOW_THINKING_PROCESS,
        show_search_link=settings.SHOW_SEARCH_LINK,
        include_usage=include_usage,
        legacy_functions=legacy.asked(body),
        logprobs=bool(body.logprobs),
    )


async def create(rt: Runtime, live: Live, body: ChatCompletionRequest, base_url: str) -> Response:
    if body.model == f"{live.settings.CREATE_IMAGE_MODEL}-chat":
        return await images.chat(rt, live, body, base_url)
    model = body.model.removeprefix("models/")
    try:
        modern = legacy.modern(body)
        fetched = await fetch_all(rt, remote_urls(modern))
        gemini = to_gemini(modern, model, fetched, live.settings.SHOW_THINKING_PROCESS)
    except BadRequest as exc:
        return bad_request(exc.message, exc.param)
    try:
        call = chat_call(live, body, gemini)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (a seed, a schema's bound)
        return bad_request("The request holds an integer too large for the upstream (beyond 64 bits).")
    call.adapter = ChatAdapter(rt, view_of(live, body), base_url, bool(body.stream))
    call.want_key_id = store(rt).key_for(call.body)  # a file is readable only with the key holding it
    return await forward(rt, live, call)
