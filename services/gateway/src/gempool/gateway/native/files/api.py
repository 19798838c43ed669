"""The Files API: uploads (resumable and multipart), list, get, delete, each on the file's own key.

A resumable upload starts on any key; the upload URL handed back points at gempool and carries the
upstream upload id, the key that holds the session and a signature, so any gateway replica can
relay the chunks (clients following Google's docs send chunks without an API key).
"""

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gempool.common.keys import key_id
from gempool.gateway.access.auth import presented_token
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native.files.store import store
from gempool.gateway.paths import bad_file
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

Authorize = Callable[[Runtime, Request, Dialect], Awaitable[Live | Response]]

# Upstream answer headers an upload client needs (the control URL points upstream: never passed on).
UPLOAD_HEADERS = (
    "x-goog-upload-url",
    "x-goog-upload-status",
    "x-goog-upload-chunk-granularity",
    "x-goog-upload-size-received",
)
OURS = ("gempool_key_id", "gempool_owner", "gempool_sig")
DEFAULT_PAGE, MAX_PAGE = 10, 100


def owner_of(request: Request) -> str:
    """A fingerprint of the client token (never the token itself)."""
    return key_id(presented_token(request)[0])


def no_access(file_id: str, dialect: Dialect = Dialect.GEMINI) -> Response:
    """Google's answer for a file that does not exist or belongs to someone else."""
    message = f"You do not have permission to access the File {file_id} or it may not exist."
    return error_response(dialect, 403, message)


def _sign(live: Live, upload_id: str, kid: str, owner: str) -> str:
    secret = ("gempool-upload:" + live.settings.AUTH_TOKEN).encode()
    return hmac.new(secret, f"{upload_id}:{kid}:{owner}".encode(), hashlib.sha256).hexdigest()[:32]


def _query(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k != "key" and k not in OURS]


def _json(response: Response) -> Any:
    try:
        return orjson.loads(bytes(response.body))
    except orjson.JSONDecodeError:
        return None


class FilesApi:
    def __init__(self, rt: Runtime, authorize: Authorize) -> None:
        self.rt, self.authorize = rt, authorize

    # ---- upload

    async def upload(self, request: Request, version: str) -> Response:
        if "upload_id" in request.query_params:
            return await self._chunk(request, version)
        live = await self.authorize(self.rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        call = self._call(request, "gemini.files.upload", f"/upload/{version}/files", await request.body())
        call.query = _query(request)
        response = await forward(self.rt, live, call)
        if response.status_code != 200:
            return response
        upstream_url = response.headers.get("x-goog-upload-url")
        if upstream_url:
            session = self._session_url(request, live, version, upstream_url, call.served_by)
            response.headers["x-goog-upload-url"] = session
        else:
            self._remember(response, call.served_by, owner_of(request))
        return response

    def _session_url(self, request: Request, live: Live, version: str, upstream_url: str, kid: str) -> str:
        upload_id = parse_qs(urlsplit(upstream_url).query).get("upload_id", [""])[0]
        owner = owner_of(request)
        params = {
            "upload_id": upload_id,
            "upload_protocol": "resumable",
            "gempool_key_id": kid,
            "gempool_owner": owner,
            "gempool_sig": _sign(live, upload_id, kid, owner),
        }
        return f"{str(request.base_url).rstrip('/')}/upload/{version}/files?{urlencode(params)}"

    async def _chunk(self, request: Request, version: str) -> Response:
        live = self.rt.live
        if live is None:
            self.rt.metrics.refused.labels("starting").inc()
            return error_response(Dialect.GEMINI, 503, "gempool is starting: waiting for settings.")
        params = request.query_params
        upload_id, kid, owner = (params.get(n, "") for n in ("upload_id", "gempool_key_id", "gempool_owner"))
        if not hmac.compare_digest(params.get("gempool_sig", ""), _sign(live, upload_id, kid, owner)):
            return error_response(Dialect.GEMINI, 401, "This upload URL was not issued by this gateway.")
        call = self._call(request, "gemini.files.upload", f"/upload/{version}/files", await request.body())
        call.query = [("upload_id", upload_id), ("upload_protocol", "resumable")]
        call.want_key_id = kid
        response = await forward(self.rt, live, call)
        if response.status_code == 200 and response.headers.get("x-goog-upload-status") == "final":
            self._remember(response, kid, owner)
        return response

    def _remember(self, response: Response, kid: str, owner: str) -> None:
        answer = _json(response)
        if isinstance(answer, dict) and isinstance(answer.get("file"), dict):
            store(self.rt).remember(answer["file"], kid, owner)

    def _call(self, request: Request, route: str, path: str, body: bytes = b"") -> Call:
        return Call(
            Dialect.GEMINI,
            route,
            "",
            path,
            body=body,
            http_method=request.method,
            headers=dict(request.headers),
            keep_headers=UPLOAD_HEADERS,
        )

    # ---- list, get, delete

    async def list_files(self, request: Request, version: str) -> Response:
        """Our records, not the upstream's: one list across every key's project."""
        live = await self.authorize(self.rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        files = store(self.rt)
        files.sweep(live.settings)
        owner = owner_of(request) if live.settings.FILES_USER_ISOLATION_ENABLED else None
        page = _page([r.file for r in files.listing(owner)], request.query_params)
        if page is None:
            return error_response(Dialect.GEMINI, 400, "Invalid page token.")
        return Response(orjson.dumps(page), media_type="application/json")

    async def one_file(self, request: Request, version: str) -> Response:
        live = await self.authorize(self.rt, request, Dialect.GEMINI)
        if isinstance(live, Response):
            return live
        file_id = request.path_params["file_id"]
        refused = bad_file(file_id)
        if refused is not None:
            return refused
        files = store(self.rt)
        record = files.get(f"files/{file_id}")
        isolated = live.settings.FILES_USER_ISOLATION_ENABLED
        if record is None or (isolated and record.owner != owner_of(request)):
            return no_access(file_id)
        deleting = request.method == "DELETE"
        call = self._call(
            request, f"gemini.files.{'delete' if deleting else 'get'}", f"/{version}/files/{file_id}"
        )
        call.query, call.want_key_id = _query(request), record.key_id
        response = await forward(self.rt, live, call)
        if response.status_code == 200:
            if deleting:
                files.forget(record.name)
            elif isinstance(answer := _json(response), dict):
                record.file = answer
        return response


def _page(items: list[dict[str, Any]], params: Mapping[str, str]) -> dict[str, Any] | None:
    """Google's list shape: no ``files`` key at all when there are none."""
    try:
        size = int(params.get("pageSize") or DEFAULT_PAGE)
        start = int(params.get("pageToken") or 0)
    except ValueError:
        return None
    if start < 0:
        return None
    size = DEFAULT_PAGE if size <= 0 else min(size, MAX_PAGE)
    page: dict[str, Any] = {"files": items[start : start + size]} if items[start : start + size] else {}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


def routes(rt: Runtime, authorize: Authorize, prefixes: Mapping[str, str]) -> list[Route]:
    """Uploads under ``[/gemini]/upload/{version}/files``; the rest beside each native prefix."""
    api = FilesApi(rt, authorize)
    out = []
    for prefix, version in prefixes.items():
        root = prefix.removesuffix(f"/{version}")
        out.append(Route(f"{root}/upload/{version}/files", _bind(api.upload, version), methods=["POST"]))
        out.append(Route(f"{prefix}/files", _bind(api.list_files, version), methods=["GET"]))
        one = _bind(api.one_file, version)
        out.append(Route(f"{prefix}/files/{{file_id:str}}", one, methods=["GET", "DELETE"]))
    return out


def _bind(
    handler: Callable[[Request, str], Awaitable[Response]], version: str
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, version)

    return endpoint
