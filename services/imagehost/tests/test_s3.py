"""s3 against moto's S3 server, started as a process with signature checking on (IAM enforced)."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import httpx
import pytest

from gempool.common.live import LiveSettings
from gempool.imagehost.objectstores import S3Provider
from gempool.imagehost.providers import ProviderError, Upload

ITEM = Upload(data=b"GIF89a" + b"\x02" * 50, mime_type="image/gif", name="S" * 32 + ".gif")
BUCKET, REGION = "gempool-images", "us-east-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto_server exited")
        try:
            httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def _client(service: str, endpoint: str, key: str = "bootstrap", secret: str = "bootstrap") -> object:
    session = botocore.session.get_session()
    return session.create_client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(endpoint, access key, secret) of a moto server whose requests after the first four must be
    signed by a known IAM user's key."""
    port = _free_port()
    env = os.environ | {"INITIAL_NO_AUTH_ACTION_COUNT": "4", "MOTO_CALL_RESET_API": "false"}
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=out,
            env=env,
        )
    try:
        _wait(port, process)
        endpoint = f"http://127.0.0.1:{port}"
        iam: object = _client("iam", endpoint)
        iam.create_user(UserName="gempool")  # type: ignore[attr-defined]
        iam.put_user_policy(  # type: ignore[attr-defined]
            UserName="gempool", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
        )
        key = iam.create_access_key(UserName="gempool")["AccessKey"]  # type: ignore[attr-defined]
        s3: object = _client("s3", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        process.wait(10)


def settings(endpoint: str, key: str, secret: str, **changes: object) -> LiveSettings:
    values: dict[str, object] = {
        "UPLOAD_PROVIDER": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": REGION,
        "S3_BUCKET_NAME": BUCKET,
        "S3_ACCESS_KEY": key,
        "S3_SECRET_KEY": secret,
        "S3_PATH_STYLE": True,
    } | changes
    return LiveSettings.model_validate(values)


async def test_upload_is_stored_under_its_name_with_its_type(moto: tuple[str, str, str]) -> None:
    endpoint, key, secret = moto
    async with httpx.AsyncClient() as client:
        url = await S3Provider(client, settings(endpoint, key, secret)).upload(ITEM)
    assert url == f"{endpoint}/{BUCKET}/{ITEM.name}"
    s3: object = _client("s3", endpoint, key, secret)
    stored = s3.get_object(Bucket=BUCKET, Key=ITEM.name)  # type: ignore[attr-defined]
    assert stored["Body"].read() == ITEM.data and stored["ContentType"] == "image/gif"


async def test_a_public_base_url_makes_the_link(moto: tuple[str, str, str]) -> None:
    endpoint, key, secret = moto
    live = settings(endpoint, key, secret, S3_PUBLIC_URL="https://cdn.example.com/img/")
    async with httpx.AsyncClient() as client:
        url = await S3Provider(client, live).upload(ITEM)
    assert url == f"https://cdn.example.com/img/{ITEM.name}"


async def test_a_wrong_secret_is_a_clear_refusal(moto: tuple[str, str, str]) -> None:
    endpoint, key, _ = moto
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProviderError) as err:
            await S3Provider(client, settings(endpoint, key, "wrong-secret")).upload(ITEM)
    assert "403" in str(err.value) and "SignatureDoesNotMatch" in str(err.value)


async def test_an_unknown_key_is_a_clear_refusal(moto: tuple[str, str, str]) -> None:
    endpoint, _, secret = moto
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProviderError) as err:
            await S3Provider(client, settings(endpoint, "AKIANOTAKEY000000000", secret)).upload(ITEM)
    assert "403" in str(err.value) and "InvalidAccessKeyId" in str(err.value)


def test_virtual_host_addressing_and_aws_default_endpoint() -> None:
    live = LiveSettings(
        UPLOAD_PROVIDER="s3", S3_REGION="eu-west-1", S3_BUCKET_NAME="b", S3_ACCESS_KEY="k", S3_SECRET_KEY="s"
    )
    provider = S3Provider(httpx.AsyncClient(), live)
    assert provider._object_url("x.png") == "https://b.s3.eu-west-1.amazonaws.com/x.png"
