"""Object stores: Aliyun OSS (gemini-balance's ``aliyun_oss``) and any S3-compatible store.

Both take one signed ``PUT`` of the object and answer an XML error on refusal. An object's name is
the random name the service picked; its public URL is the bucket's (or ``S3_PUBLIC_URL``'s), so
the bucket must allow public reads of objects for clients to open the links.
"""

import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import ProviderNotConfigured, Upload
from gempool.imagehost.wire import send

_OSS_REGION = re.compile(r"^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$")


def _require(live: LiveSettings, *names: str) -> None:
    missing = [name for name in names if not str(getattr(live, name)).strip()]
    if missing:
        raise ProviderNotConfigured(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty")


def _endpoint(value: str) -> httpx.URL:
    """``oss-cn-hangzhou.aliyuncs.com`` or a whole URL; https unless the URL says otherwise."""
    value = value.strip().rstrip("/")
    return httpx.URL(value if "://" in value else f"https://{value}")


class AliyunOssProvider:
    """Aliyun OSS, signed with OSS's V4 scheme (``OSS4-HMAC-SHA256``, region-scoped).

    The upload goes to OSS_ENDPOINT_INNER when set (traffic inside the VPC is free), the link
    names OSS_ENDPOINT: ``https://{bucket}.{OSS_ENDPOINT}/{name}``.
    """

    name = "aliyun_oss"

    def __init__(self, client: httpx.AsyncClient, live: LiveSettings) -> None:
        _require(live, "OSS_ENDPOINT", "OSS_ACCESS_KEY", "OSS_ACCESS_KEY_SECRET", "OSS_BUCKET_NAME")
        self.client = client
        self.public = _endpoint(live.OSS_ENDPOINT)
        self.upload_to = _endpoint(live.OSS_ENDPOINT_INNER or live.OSS_ENDPOINT)
        self.bucket, self.key_id = live.OSS_BUCKET_NAME.strip(), live.OSS_ACCESS_KEY.strip()
        self.secret = live.OSS_ACCESS_KEY_SECRET.strip()
        self.region = live.OSS_REGION.strip() or _region_of(self.public.host)

    async def upload(self, item: Upload) -> str:
        now = datetime.now(UTC)
        headers = {
            "content-type": item.mime_type,
            "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
            "x-oss-date": now.strftime("%Y%m%dT%H%M%SZ"),
        }
        headers["authorization"] = oss_v4_authorization(
            "PUT", self.bucket, item.name, headers, self.key_id, self.secret, self.region
        )
        await send(
            self.client, "PUT", self._url(self.upload_to, item.name), content=item.data, headers=headers
        )
        return self._url(self.public, item.name)

    def _url(self, endpoint: httpx.URL, name: str) -> str:
        return f"{endpoint.scheme}://{self.bucket}.{endpoint.netloc.decode()}/{quote(name)}"


def _region_of(host: str) -> str:
    match = _OSS_REGION.match(host)
    if match is None:
        raise ProviderNotConfigured(f"OSS_REGION is empty and cannot be read from the endpoint {host!r}")
    return match[1]


def oss_v4_authorization(
    method: str, bucket: str, name: str, headers: dict[str, str], key_id: str, secret: str, region: str
) -> str:
    """The ``Authorization`` value of OSS's V4 signature for a request with no query string.

    Signed headers: every ``x-oss-*`` plus content-type and content-md5 (OSS's defaults).
    """
    stamp = headers["x-oss-date"]
    scope = f"{stamp[:8]}/{region}/oss/aliyun_v4_request"
    signed = sorted((k.lower(), v.strip()) for k, v in headers.items() if _signed(k.lower()))
    canonical = "\n".join(
        [
            method,
            quote(f"/{bucket}/{name}", safe="/~"),
            "",  # query
            "".join(f"{k}:{v}\n" for k, v in signed),
            "",  # additional headers
            headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ]
    )
    to_sign = "\n".join(["OSS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"aliyun_v4{secret}".encode()
    for part in (stamp[:8], region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"OSS4-HMAC-SHA256 Credential={key_id}/{scope}, Signature={signature}"


def _signed(header: str) -> bool:
    return header.startswith("x-oss-") or header in ("content-type", "content-md5")


class S3Provider:
    """Any S3-compatible store (AWS S3, Cloudflare R2, MinIO, Ceph), signed by botocore's SigV4."""

    name = "s3"

    def __init__(self, client: httpx.AsyncClient, live: LiveSettings) -> None:
        _require(live, "S3_BUCKET_NAME", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION")
        self.client, self.bucket, self.path_style = client, live.S3_BUCKET_NAME.strip(), live.S3_PATH_STYLE
        region = live.S3_REGION.strip()
        self.endpoint = _endpoint(live.S3_ENDPOINT_URL or f"s3.{region}.amazonaws.com")
        self.public_base = live.S3_PUBLIC_URL.strip().rstrip("/")
        credentials = Credentials(live.S3_ACCESS_KEY.strip(), live.S3_SECRET_KEY.strip())
        self.signer = S3SigV4Auth(credentials, "s3", region)

    async def upload(self, item: Upload) -> str:
        url = self._object_url(item.name)
        request = AWSRequest(method="PUT", url=url, data=item.data, headers={"Content-Type": item.mime_type})
        self.signer.add_auth(request)
        headers = dict(request.headers.items())
        await send(self.client, "PUT", url, content=item.data, headers=headers)
        return f"{self.public_base}/{quote(item.name)}" if self.public_base else url

    def _object_url(self, name: str) -> str:
        base = self.endpoint
        if self.path_style:
            return (
                f"{base.scheme}://{base.netloc.decode()}{base.path.rstrip('/')}/{self.bucket}/{quote(name)}"
            )
        return f"{base.scheme}://{self.bucket}.{base.netloc.decode()}{base.path.rstrip('/')}/{quote(name)}"
