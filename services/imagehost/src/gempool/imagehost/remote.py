"""Remote image hosts, compatible with gemini-balance's UPLOAD_PROVIDER values."""

from typing import Any

import httpx

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import Provider, ProviderError, ProviderNotConfigured, Upload

SMMS_URL = "https://sm.ms/api/v2/upload"
PICGO_URL = "https://www.picgo.net/api/1/upload"


async def _post(client: httpx.AsyncClient, url: str, item: Upload, field: str, **kw: Any) -> Any:
    files = {field: (item.name, item.data, item.mime_type)}
    try:
        response = await client.post(url, files=files, **kw)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ProviderError(f"request failed: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise ProviderError(f"answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ProviderError("answered with something that is not JSON") from None


def _public_url(value: Any) -> str:
    """The URL a host answered, if it is one clients can open (never javascript:, data:, ...)."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ProviderError(f"answered with no usable URL: {str(value)[:100]!r}")
    return value


class SmmsProvider:
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
                return _public_url(body["data"].get("url"))
            # SM.MS refuses a second upload of the same picture but names the first one.
            if body.get("code") == "image_repeated":
                return _public_url(body.get("images"))
            raise ProviderError(f"refused the upload: {str(body.get('message', body.get('code')))[:200]}")
        raise ProviderError("answered with an unexpected shape")


class PicgoProvider:
    name = "picgo"

    def __init__(self, client: httpx.AsyncClient, api_key: str) -> None:
        if not api_key:
            raise ProviderNotConfigured("PICGO_API_KEY is empty")
        self.client, self.api_key = client, api_key

    async def upload(self, item: Upload) -> str:
        body = await _post(self.client, PICGO_URL, item, "source", headers={"X-API-Key": self.api_key})
        if isinstance(body, dict) and body.get("status_code") == 200:
            image = body.get("image")
            if isinstance(image, dict):
                return _public_url(image.get("url"))
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else "unexpected answer"
        raise ProviderError(f"refused the upload: {str(message)[:200]}")


class CloudflareImgbedProvider:
    name = "cloudflare_imgbed"

    def __init__(self, client: httpx.AsyncClient, url: str, auth_code: str) -> None:
        if not url:
            raise ProviderNotConfigured("CLOUDFLARE_IMGBED_URL is empty")
        self.client, self.url, self.auth_code = client, url, auth_code

    async def upload(self, item: Upload) -> str:
        params = {"uploadNameType": "origin"}
        if self.auth_code:
            params["authCode"] = self.auth_code
        body = await _post(self.client, self.url, item, "file", params=params)
        src = body[0].get("src") if isinstance(body, list) and body and isinstance(body[0], dict) else None
        if not isinstance(src, str) or not src:
            raise ProviderError("answered without a file URL")
        # Usually a path like /file/abc.png, relative to the upload URL's host.
        return _public_url(str(httpx.URL(self.url).join(src)))


REMOTE = ("smms", "picgo", "cloudflare_imgbed")


def remote_provider(live: LiveSettings, client: httpx.AsyncClient) -> Provider:
    """The remote provider ``live.UPLOAD_PROVIDER`` names (which must be one of REMOTE)."""
    match live.UPLOAD_PROVIDER:
        case "smms":
            return SmmsProvider(client, live.SMMS_SECRET_TOKEN)
        case "picgo":
            return PicgoProvider(client, live.PICGO_API_KEY)
        case "cloudflare_imgbed":
            return CloudflareImgbedProvider(
                client, live.CLOUDFLARE_IMGBED_URL, live.CLOUDFLARE_IMGBED_AUTH_CODE
            )
    raise ValueError(f"not a remote provider: {live.UPLOAD_PROVIDER!r}")
