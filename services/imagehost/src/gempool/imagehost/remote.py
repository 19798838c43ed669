"""Image hosts with an upload form (gemini-balance's UPLOAD_PROVIDER values) and the dispatcher."""

from typing import Any

import httpx

from gempool.common.live import LiveSettings
from gempool.imagehost.objectstores import AliyunOssProvider, S3Provider
from gempool.imagehost.providers import Provider, ProviderError, ProviderNotConfigured, Upload
from gempool.imagehost.wire import json_of, public_url, send

SMMS_URL = "https://sm.ms/api/v2/upload"


async def _post(client: httpx.AsyncClient, url: str, item: Upload, field: str, **kw: Any) -> Any:
    files = {field: (item.name, item.data, item.mime_type)}
    return json_of(await send(client, "POST", url, files=files, **kw))


class SmmsProvider:
    """SM.MS API v2: ``POST /api/v2/upload``, multipart field ``smfile``, ``Authorization: <token>``."""

    name = "smms"

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        if not token:
            raise ProviderNotConfigured("SMMS_SECRET_TOKEN is empty")
        self.client, self.token = client, token

    async def upload(self, item: Upload) -> str:
        body = await _post(
            self.client, SMMS_URL, item, "smfile", headers={"Authorization": f"Basic {self.token}"}
        )
        if isinstance(body, dict):
            if body.get("success") and isinstance(body.get("data"), dict):
                return public_url(body["data"].get("url"))
            # SM.MS refuses a second upload of the same picture but names the first one.
            if body.get("code") == "image_repeated":
                return public_url(body.get("images"))
            raise ProviderError(f"refused the upload: {str(body.get('message', body.get('code')))[:200]}")
        raise ProviderError("answered with an unexpected shape")


class PicgoProvider:
    """PicGo.net (Chevereto API v1): field ``source``, header ``X-API-Key``, answer ``image.url``."""

    name = "picgo"

    def __init__(self, client: httpx.AsyncClient, api_key: str, url: str) -> None:
        if not api_key:
            raise ProviderNotConfigured("PICGO_API_KEY is empty")
        if not url:
            raise ProviderNotConfigured("PICGO_API_URL is empty")
        self.client, self.api_key, self.url = client, api_key, url

    async def upload(self, item: Upload) -> str:
        body = await _post(self.client, self.url, item, "source", headers={"X-API-Key": self.api_key})
        if isinstance(body, dict) and body.get("status_code") == 200:
            image = body.get("image")
            if isinstance(image, dict):
                return public_url(image.get("url"))
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else "unexpected answer"
        raise ProviderError(f"refused the upload: {str(message)[:200]}")


class CloudflareImgbedProvider:
    """CloudFlare ImgBed: field ``file``; ``authCode``, ``uploadNameType`` and ``uploadFolder`` in the
    query; answers ``[{"src": "/file/..."}]`` relative to the upload URL's host."""

    name = "cloudflare_imgbed"

    def __init__(self, client: httpx.AsyncClient, url: str, auth_code: str, folder: str) -> None:
        if not url:
            raise ProviderNotConfigured("CLOUDFLARE_IMGBED_URL is empty")
        self.client, self.url, self.auth_code, self.folder = client, url, auth_code, folder.strip("/")

    async def upload(self, item: Upload) -> str:
        params = {"uploadNameType": "origin"}
        if self.auth_code:
            params["authCode"] = self.auth_code
        if self.folder:
            params["uploadFolder"] = self.folder
        body = await _post(self.client, self.url, item, "file", params=params)
        src = body[0].get("src") if isinstance(body, list) and body and isinstance(body[0], dict) else None
        if not isinstance(src, str) or not src:
            raise ProviderError("answered without a file URL")
        return public_url(str(httpx.URL(self.url).join(src)))


REMOTE = ("smms", "picgo", "cloudflare_imgbed", "aliyun_oss", "s3")


def remote_provider(live: LiveSettings, client: httpx.AsyncClient) -> Provider:
    """The remote provider ``live.UPLOAD_PROVIDER`` names (which must be one of REMOTE)."""
    match live.UPLOAD_PROVIDER:
        case "smms":
            return SmmsProvider(client, live.SMMS_SECRET_TOKEN)
        case "picgo":
            return PicgoProvider(client, live.PICGO_API_KEY, live.PICGO_API_URL)
        case "cloudflare_imgbed":
            return CloudflareImgbedProvider(
                client,
                live.CLOUDFLARE_IMGBED_URL,
                live.CLOUDFLARE_IMGBED_AUTH_CODE,
                live.CLOUDFLARE_IMGBED_UPLOAD_FOLDER,
            )
        case "aliyun_oss":
            return AliyunOssProvider(client, live)
        case "s3":
            return S3Provider(client, live)
    raise ValueError(f"not a remote provider: {live.UPLOAD_PROVIDER!r}")
