"""smms, picgo and cloudflare_imgbed against stand-ins that check each request field by field as
the hosts document it (endpoint, auth header, multipart field, query), and answer their shapes."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import ProviderError, Upload
from gempool.imagehost.remote import remote_provider

from .standins import ToStandIn, serve

ITEM = Upload(data=b"\x89PNG\r\n\x1a\n" + b"\x03" * 30, mime_type="image/png", name="H" * 32 + ".png")
TOKEN, PICGO_KEY, AUTH_CODE = "smms-token-1", "chv-key-1", "bed-code-1"


@dataclass
class Hosts:
    """One app for the three hosts; ``seen`` records what each upload carried."""

    seen: list[dict[str, str]] = field(default_factory=list)

    async def _file(self, request: Request, name: str) -> bool:
        """Whether the multipart field ``name`` holds the upload; records what it carried."""
        async with request.form() as form:
            upload = form.get(name)
            if not isinstance(upload, UploadFile) or await upload.read() != ITEM.data:
                return False
            filename, content_type = upload.filename or "", upload.content_type or ""
        host = request.headers["host"]
        self.seen.append({"host": host, "field": name, "filename": filename, "content_type": content_type})
        return True

    async def smms(self, request: Request) -> Response:
        # sm.ms/api/v2: "Authorization: <token>" or "Authorization: Basic <token>"; field smfile.
        if request.headers.get("authorization", "").removeprefix("Basic ") != TOKEN:
            return JSONResponse(
                {"success": False, "code": "unauthorized", "message": "Authorization failed."}
            )
        if not await self._file(request, "smfile"):
            return JSONResponse({"success": False, "code": "error", "message": "No files were uploaded."})
        data = {"file_id": 0, "width": 1, "height": 1, "filename": ITEM.name, "storename": "Ab.png",
                "size": len(ITEM.data), "path": "/2026/11/27/Ab.png", "hash": "h",
                "url": "https://s2.loli.net/2026/11/27/Ab.png", "delete": "https://sm.ms/delete/h",
                "page": "https://sm.ms/image/Ab"}  # fmt: skip
        return JSONResponse({"success": True, "code": "success", "message": "Upload success.", "data": data})

    async def picgo(self, request: Request) -> Response:
        # Chevereto API v1: X-API-Key header, field "source".
        if request.headers.get("x-api-key") != PICGO_KEY:
            error = {"message": "Invalid API v1 key.", "code": 100, "context": "Exception"}
            return JSONResponse({"status_code": 400, "error": error, "status_txt": "Bad Request"}, 400)
        if not await self._file(request, "source"):
            error = {"message": "Empty upload source.", "code": 130}
            return JSONResponse({"status_code": 400, "error": error, "status_txt": "Bad Request"}, 400)
        image = {"name": "Ab", "extension": "png", "url": "https://i.picgo.net/2026/11/27/Ab.png"}
        success = {"message": "image uploaded", "code": 200}
        return JSONResponse({"status_code": 200, "success": success, "image": image, "status_txt": "OK"})

    async def imgbed(self, request: Request) -> Response:
        # CloudFlare ImgBed /upload: authCode, uploadNameType, uploadFolder in the query; field "file".
        query = request.query_params
        if query.get("authCode") != AUTH_CODE:
            return PlainTextResponse("Unauthorized", status_code=401)
        if not await self._file(request, "file"):
            return PlainTextResponse("No file uploaded", status_code=400)
        self.seen[-1] |= {
            "uploadNameType": query.get("uploadNameType", ""),
            "folder": query.get("uploadFolder", ""),
        }
        folder = f"{query['uploadFolder']}/" if query.get("uploadFolder") else ""
        return JSONResponse([{"src": f"/file/{folder}{ITEM.name}"}])

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v2/upload", self.smms, methods=["POST"]),
                Route("/api/1/upload", self.picgo, methods=["POST"]),
                Route("/upload", self.imgbed, methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Hosts, int]]:
    stand_in = Hosts()
    with serve(stand_in.app()) as port:
        yield stand_in, port


async def upload(live: LiveSettings, port: int) -> str:
    async with httpx.AsyncClient(transport=ToStandIn(port)) as client:
        return await remote_provider(live, client).upload(ITEM)


async def test_smms(hosts: tuple[Hosts, int]) -> None:
    stand_in, port = hosts
    url = await upload(LiveSettings(UPLOAD_PROVIDER="smms", SMMS_SECRET_TOKEN=TOKEN), port)
    assert url == "https://s2.loli.net/2026/11/27/Ab.png"
    assert stand_in.seen[-1] == {
        "host": "sm.ms", "field": "smfile", "filename": ITEM.name, "content_type": "image/png"
    }  # fmt: skip


async def test_smms_refusal_names_the_reason(hosts: tuple[Hosts, int]) -> None:
    _, port = hosts
    with pytest.raises(ProviderError, match="Authorization failed"):
        await upload(LiveSettings(UPLOAD_PROVIDER="smms", SMMS_SECRET_TOKEN="wrong"), port)


async def test_picgo_default_url(hosts: tuple[Hosts, int]) -> None:
    stand_in, port = hosts
    url = await upload(LiveSettings(UPLOAD_PROVIDER="picgo", PICGO_API_KEY=PICGO_KEY), port)
    assert url == "https://i.picgo.net/2026/11/27/Ab.png"
    assert stand_in.seen[-1]["host"] == "www.picgo.net" and stand_in.seen[-1]["field"] == "source"


async def test_picgo_custom_api_url(hosts: tuple[Hosts, int]) -> None:
    stand_in, port = hosts
    live = LiveSettings(
        UPLOAD_PROVIDER="picgo",
        PICGO_API_KEY=PICGO_KEY,
        PICGO_API_URL="https://img.corp.example/api/1/upload",
    )
    await upload(live, port)
    assert stand_in.seen[-1]["host"] == "img.corp.example"


async def test_picgo_refusal_names_the_reason(hosts: tuple[Hosts, int]) -> None:
    _, port = hosts
    with pytest.raises(ProviderError, match="400.*Invalid API v1 key"):
        await upload(LiveSettings(UPLOAD_PROVIDER="picgo", PICGO_API_KEY="wrong"), port)


async def test_cloudflare_imgbed_with_folder(hosts: tuple[Hosts, int]) -> None:
    stand_in, port = hosts
    live = LiveSettings(
        UPLOAD_PROVIDER="cloudflare_imgbed",
        CLOUDFLARE_IMGBED_URL="https://bed.example.com/upload",
        CLOUDFLARE_IMGBED_AUTH_CODE=AUTH_CODE,
        CLOUDFLARE_IMGBED_UPLOAD_FOLDER="/gempool/images/",
    )
    url = await upload(live, port)
    assert url == f"https://bed.example.com/file/gempool/images/{ITEM.name}"
    seen = stand_in.seen[-1]
    assert (seen["host"], seen["field"], seen["folder"], seen["uploadNameType"]) == (
        "bed.example.com", "file", "gempool/images", "origin"
    )  # fmt: skip


async def test_cloudflare_imgbed_wrong_code_is_a_clear_refusal(hosts: tuple[Hosts, int]) -> None:
    _, port = hosts
    live = LiveSettings(
        UPLOAD_PROVIDER="cloudflare_imgbed",
        CLOUDFLARE_IMGBED_URL="https://bed.example.com/upload",
        CLOUDFLARE_IMGBED_AUTH_CODE="wrong",
    )
    with pytest.raises(ProviderError, match="401"):
        await upload(live, port)
