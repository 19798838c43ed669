"""The fake Gemini API: Starlette app, behaviour by key, a record of every call."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gempool.fakegemini import answers, errors, features, openai_compat
from gempool.fakegemini.behaviour import Behaviour, Rules
from gempool.fakegemini.files import FileStore, no_access
from gempool.fakegemini.recorder import Recorder, Seen

JSON = "application/json; charset=UTF-8"
MODEL_NAMES = {name for name, _, _ in answers.MODELS}


def json_response(status: int, payload: Any) -> Response:
    content = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    return Response(content, status_code=status, media_type=JSON)


class FakeGemini:
    def __init__(self) -> None:
        self.rules = Rules()
        self.calls: list[dict[str, Any]] = []
        self.seen: list[Seen] = []  # every request as it arrived (recorder.py)
        self.files = FileStore()
        self.signatures: set[str] = set()  # thought signatures handed out with function calls

    @property
    def paths(self) -> list[str]:
        """Every request's raw path (and query) as it arrived, whatever route it matched."""
        return [seen.raw for seen in self.seen if not seen.control]

    def record(self, request: Request, key: str, model: str, method: str, body: Any) -> None:
        self.calls.append(
            {
                "key": key,
                "model": model,
                "method": method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "body": body,
                "headers": {
                    k: v for k, v in request.headers.items() if k.startswith("x-") and k != "x-goog-api-key"
                },
            }
        )

    # ---- routes

    async def list_models(self, request: Request) -> Response:
        key = api_key(request)
        if not key:
            return json_response(*errors.missing_key())
        self.record(request, key, "", "models.list", None)
        failure = self.failure(self.rules.for_call(key, ""), "", key)
        if failure is not None:
            return json_response(*failure)
        models = [answers.model_info(*m) for m in answers.MODELS]
        size = int(request.query_params.get("pageSize", "50"))
        start = int(request.query_params.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"models": models[start : start + size]}
        if start + size < len(models):
            page["nextPageToken"] = str(start + size)
        return json_response(200, page)

    async def model_call(self, request: Request) -> Response:
        version = request.path_params["version"]
        name, _, method = request.path_params["rest"].partition(":")
        key = api_key(request)
        if not key:
            return json_response(*errors.missing_key())
        if request.method == "GET":
            return self.get_model(request, key, name, version)
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return json_response(*errors.bad_request("Invalid JSON payload received."))
        self.record(request, key, name, method, body)
        behaviour = self.rules.for_call(key, name)
        if behaviour.kind == "slow":
            await asyncio.sleep(behaviour.arg if behaviour.arg is not None else 1.0)
        elif behaviour.kind == "suspended" and behaviour.arg:
            await asyncio.sleep(behaviour.arg)
        failure = self.failure(behaviour, name, key)
        if failure is not None:
            return json_response(*failure)
        if name not in MODEL_NAMES:
            return json_response(*errors.model_not_found(name, version, method))
        foreign = self.files.foreign_file(key, body)
        if foreign is not None:
            return json_response(*no_access(foreign))
        generating = method in ("generateContent", "streamGenerateContent")
        refused = features.check(body, name, self.signatures) if generating else None
        if refused is not None:
            return json_response(*refused)
        return await self.answer(request, method, name, body, behaviour)

    def get_model(self, request: Request, key: str, name: str, version: str) -> Response:
        self.record(request, key, name, "models.get", None)
        for model in answers.MODELS:
            if model[0] == name:
                return json_response(200, answers.model_info(*model))
        return json_response(*errors.model_not_found(name, version, "get"))

    def failure(self, behaviour: Behaviour, model: str, key: str) -> tuple[int, bytes] | None:
        kind = behaviour.kind
        if kind == "invalid":
            return errors.invalid_key()
        if kind == "leaked":
            return errors.leaked_key()
        if kind == "suspended":
            return errors.suspended(key)
        if kind in ("quota", "daily"):
            return errors.quota(model, behaviour.arg if behaviour.arg is not None else 30.0, kind == "daily")
        if kind == "overload":
            return errors.overloaded()
        if kind == "error500":
            return errors.internal()
        return None

    async def answer(self, request: Request, method: str, model: str, body: Any, b: Behaviour) -> Response:
        if method == "generateContent":
            if b.kind in ("empty", "blocked"):
                return json_response(
                    200, answers.empty(model) if b.kind == "empty" else answers.blocked(model)
                )
            shaped = features.events(body, model, self.rules.chunks, self.signatures)
            merged = features.merge(shaped) if shaped is not None else None
            whole = merged or answers.generate(body, model, self.rules.chunks)
            return json_response(200, features.with_logprobs([whole], body)[0])
        if method == "streamGenerateContent":
            sse = request.query_params.get("alt") == "sse"
            return StreamingResponse(
                self.stream(body, model, b, sse), media_type="text/event-stream" if sse else JSON
            )
        if method == "countTokens":
            return json_response(200, answers.count_tokens(body))
        if method == "embedContent":
            return json_response(
                200,
                {
                    "embedding": answers.embedding(
                        answers.last_user_text({"contents": [body.get("content", {})]}),
                        features.embedding_dims(body),
                    )
                },
            )
        if method == "batchEmbedContents":
            items = [
                answers.embedding(
                    answers.last_user_text({"contents": [r.get("content", {})]}), features.embedding_dims(r)
                )
                for r in body.get("requests", [])
            ]
            return json_response(200, {"embeddings": items})
        if method == "predict":
            return json_response(200, answers.predict(body))
        return json_response(*errors.bad_request(f"Unknown method {method}."))

    async def stream(self, body: Any, model: str, b: Behaviour, sse: bool) -> AsyncIterator[bytes]:
        events = self.events(body, model, b)
        cut_at = int(b.arg) if b.kind == "cut" and b.arg is not None else 2
        for index, event in enumerate(events):
            if b.kind == "cut" and index == cut_at:
                raise ConnectionAbortedError("fake upstream cuts the stream")
            if b.kind == "stall" and index == 1:
                await asyncio.sleep(b.arg if b.arg is not None else 60.0)
            if index and self.rules.chunk_delay:
                await asyncio.sleep(self.rules.chunk_delay)
            data = orjson.dumps(event)
            if sse:
                yield b"data: " + data + b"\r\n\r\n"
            else:
                yield (b"[" if index == 0 else b",\r\n") + data + (b"]" if index == len(events) - 1 else b"")

    def events(self, body: Any, model: str, b: Behaviour) -> list[dict[str, Any]]:
        if b.kind == "empty":
            return [answers.empty(model)]
        if b.kind == "blocked":
            return [answers.blocked(model)]
        shaped = features.events(body, model, self.rules.chunks, self.signatures)
        if shaped is not None:
            return features.with_logprobs(shaped, body)
        texts = answers.pieces(body, self.rules.chunks)
        response_id = answers.new_id()
        tokens = answers.prompt_tokens(body)
        events = [
            answers.chunk(text, model, response_id, final=i == len(texts) - 1, prompt_tokens=tokens)
            for i, text in enumerate(texts)
        ]
        return features.with_logprobs(events, body)

    # ---- files

    async def upload(self, request: Request) -> Response:
        key, version = api_key(request), request.path_params["version"]
        self.files.base_url = str(request.base_url).rstrip("/")
        body, headers = await request.body(), dict(request.headers)
        upload_id = request.query_params.get("upload_id")
        command = headers.get("x-goog-upload-command", "")
        self.record(request, key, "", "files.upload", {"command": command, "bytes": len(body)})
        if upload_id:
            status, content, extra = self.files.chunk(upload_id, body, headers, version)
        elif not key:
            return json_response(*errors.missing_key())
        elif headers.get("x-goog-upload-protocol") == "resumable" and command == "start":
            status, content, extra = self.files.start(key, body, headers, version)
        elif headers.get("content-type", "").startswith("multipart/related"):
            status, content, extra = self.files.multipart(key, body, headers["content-type"], version)
        else:
            return json_response(*errors.bad_request("Unsupported upload protocol."))
        return Response(content, status_code=status, media_type=JSON if content else None, headers=extra)

    async def file_list(self, request: Request) -> Response:
        key = api_key(request)
        if not key:
            return json_response(*errors.missing_key())
        self.record(request, key, "", "files.list", None)
        size = int(request.query_params.get("pageSize", "10"))
        return json_response(200, self.files.listing(key, size, request.query_params.get("pageToken", "")))

    async def file_one(self, request: Request) -> Response:
        key, file_id = api_key(request), request.path_params["file_id"]
        if not key:
            return json_response(*errors.missing_key())
        method = "files.delete" if request.method == "DELETE" else "files.get"
        self.record(request, key, "", method, {"name": f"files/{file_id}"})
        if request.method == "DELETE":
            return (
                json_response(200, {})
                if self.files.delete(key, file_id)
                else json_response(*no_access(file_id))
            )
        file = self.files.owned(key, file_id)
        return json_response(200, file) if file is not None else json_response(*no_access(file_id))

    # ---- control

    async def control(self, request: Request) -> Response:
        what = request.path_params["what"]
        if request.method == "GET" and what == "calls":
            return json_response(200, self.calls)
        if request.method == "GET" and what == "paths":
            return json_response(200, self.paths)
        data = orjson.loads(await request.body() or b"{}")
        if what == "keys":
            self.rules.keys.update({k: Behaviour.parse(v) for k, v in data.items()})
        elif what == "models":
            self.rules.models.update({k: Behaviour.parse(v) for k, v in data.items()})
        elif what == "config":
            self.rules.chunks = int(data.get("chunks", self.rules.chunks))
            self.rules.chunk_delay = float(data.get("chunk_delay", self.rules.chunk_delay))
        elif what == "reset":
            self.rules, self.calls, self.files = Rules(), [], FileStore()
            self.seen.clear()
        else:
            return json_response(404, {"error": f"unknown control {what}"})
        return json_response(200, {"ok": True})


def api_key(request: Request) -> str:
    return request.headers.get("x-goog-api-key") or request.query_params.get("key", "")


def create_app(fake: FakeGemini | None = None) -> Starlette:
    fake = fake or FakeGemini()
    app = Starlette(
        routes=[
            Route("/upload/{version:str}/files", fake.upload, methods=["POST"]),
            Route("/{version:str}/files", fake.file_list, methods=["GET"]),
            Route("/{version:str}/files/{file_id:str}", fake.file_one, methods=["GET", "DELETE"]),
            Route("/{version:str}/models", fake.list_models, methods=["GET"]),
            Route("/{version:str}/models/{rest:path}", fake.model_call, methods=["GET", "POST"]),
            # Vertex AI express mode (VERTEX_EXPRESS_BASE_URL = .../v1beta1/publishers/google)
            Route("/{version:str}/publishers/google/models/{rest:path}", fake.model_call, methods=["POST"]),
            *openai_compat.routes(fake),
            Route("/_fake/{what:str}", fake.control, methods=["GET", "POST"]),
        ],
        middleware=[Middleware(Recorder, seen=fake.seen)],
    )
    app.state.fake = fake
    return app
