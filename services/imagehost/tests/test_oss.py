"""aliyun_oss against a stand-in OSS that checks every signature with Alibaba's own SDK (oss v2)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest
from alibabacloud_oss_v2.signer import SignerV4
from alibabacloud_oss_v2.types import Credentials, HttpRequest, SigningContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gempool.common.live import LiveSettings
from gempool.imagehost.objectstores import AliyunOssProvider
from gempool.imagehost.providers import ProviderError, ProviderNotConfigured, Upload

from .standins import ToStandIn, serve

KEY_ID, SECRET = "LTAI5tTestKeyId00000000", "TestSecret0123456789abcdefghij"
ITEM = Upload(data=b"\x89PNG\r\n\x1a\n" + b"\x01" * 40, mime_type="image/png", name="N" * 32 + ".png")
SIGNATURE_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>SignatureDoesNotMatch</Code>\n'
    "  <Message>The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.</Message>\n  <RequestId>5C3D9175B6FC201293AD****</RequestId>\n"
    "  <HostId>bucket.oss-cn-hangzhou.aliyuncs.com</HostId>\n</Error>\n"
)


@dataclass
class StandInOss:
    """Keeps objects by (bucket, name); refuses a request whose signature the SDK would not make."""

    region: str
    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)

    def expected(self, request: Request, bucket: str, name: str) -> str:
        """The Authorization Alibaba's SDK computes for this request (at the time it says)."""
        stamp = request.headers.get("x-oss-date", "")
        headers = {k: v for k, v in request.headers.items() if k.startswith("x-oss-") or k == "content-type"}
        at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) if stamp else datetime.now(UTC)
        oracle = HttpRequest("PUT", str(request.url), headers=headers)
        context = SigningContext(
            product="oss",
            region=self.region,
            bucket=bucket,
            key=name,
            request=oracle,
            credentials=Credentials(KEY_ID, SECRET),
            signing_time=at,
        )
        SignerV4().sign(context)
        return str(oracle.headers["authorization"])

    @staticmethod
    def fields(authorization: str) -> dict[str, str]:
        """An Authorization header's parts, read as the server reads them (spaces after commas
        are allowed)."""
        scheme, _, rest = authorization.partition(" ")
        parts = dict(part.strip().partition("=")[::2] for part in rest.split(","))
        return {"scheme": scheme, **parts}

    async def put(self, request: Request) -> Response:
        host = request.headers["host"]
        self.hosts.append(host)
        bucket, name = host.split(".", 1)[0], unquote(request.url.path[1:])
        sent = self.fields(request.headers.get("authorization", ""))
        if sent != self.fields(self.expected(request, bucket, name)):
            return Response(SIGNATURE_ERROR, status_code=403, media_type="application/xml")
        self.objects[(bucket, name)] = (await request.body(), request.headers.get("content-type", ""))
        return Response(b"", headers={"ETag": '"x"', "x-oss-request-id": "r"})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{name:path}", self.put, methods=["PUT"])])


@pytest.fixture
def oss() -> Iterator[tuple[StandInOss, int]]:
    stand_in = StandInOss(region="cn-hangzhou")
    with serve(stand_in.app()) as port:
        yield stand_in, port


def settings(**changes: str) -> LiveSettings:
    values = {
        "UPLOAD_PROVIDER": "aliyun_oss",
        "OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com",
        "OSS_ACCESS_KEY": KEY_ID,
        "OSS_ACCESS_KEY_SECRET": SECRET,
        "OSS_BUCKET_NAME": "pics",
        "OSS_REGION": "cn-hangzhou",
    } | changes
    return LiveSettings.model_validate(values)


async def upload(live: LiveSettings, port: int) -> str:
    async with httpx.AsyncClient(transport=ToStandIn(port)) as client:
        return await AliyunOssProvider(client, live).upload(ITEM)


async def test_the_upload_is_signed_as_alibabas_sdk_signs_it_and_the_link_is_public(
    oss: tuple[StandInOss, int],
) -> None:
    stand_in, port = oss
    url = await upload(settings(), port)
    assert url == f"https://pics.oss-cn-hangzhou.aliyuncs.com/{ITEM.name}"
    assert stand_in.objects[("pics", ITEM.name)] == (ITEM.data, "image/png")


async def test_the_upload_goes_to_the_inner_endpoint_and_the_link_names_the_public_one(
    oss: tuple[StandInOss, int],
) -> None:
    stand_in, port = oss
    live = settings(OSS_ENDPOINT_INNER="oss-cn-hangzhou-internal.aliyuncs.com")
    url = await upload(live, port)
    assert stand_in.hosts == ["pics.oss-cn-hangzhou-internal.aliyuncs.com"]
    assert url.startswith("https://pics.oss-cn-hangzhou.aliyuncs.com/")


async def test_the_region_is_read_from_the_endpoint_when_not_set(oss: tuple[StandInOss, int]) -> None:
    stand_in, port = oss
    await upload(settings(OSS_REGION=""), port)
    assert ("pics", ITEM.name) in stand_in.objects


async def test_a_wrong_secret_is_a_clear_refusal(oss: tuple[StandInOss, int]) -> None:
    stand_in, port = oss
    with pytest.raises(ProviderError) as err:
        await upload(settings(OSS_ACCESS_KEY_SECRET="not-the-secret"), port)
    assert "403" in str(err.value) and "SignatureDoesNotMatch" in str(err.value)
    assert not stand_in.objects


def test_missing_settings_are_named() -> None:
    with pytest.raises(ProviderNotConfigured, match="OSS_BUCKET_NAME"):
        AliyunOssProvider(httpx.AsyncClient(), settings(OSS_BUCKET_NAME=""))
