"""Advice: settings that pass validation one by one but, together, will not do what users want."""

from gempool.common.advice import advise
from gempool.common.live import LiveSettings


def advised(**values: object) -> dict[str, str]:
    return {a.setting: a.message for a in advise(LiveSettings.model_validate(values))}


def test_the_defaults_need_no_advice() -> None:
    assert advised() == {}


def test_an_image_host_without_its_credential_is_named() -> None:
    found = advised(UPLOAD_PROVIDER="smms")
    assert list(found) == ["SMMS_SECRET_TOKEN"] and "local provider" in found["SMMS_SECRET_TOKEN"]
    assert advised(UPLOAD_PROVIDER="smms", SMMS_SECRET_TOKEN="tok") == {}
    assert list(advised(UPLOAD_PROVIDER="picgo")) == ["PICGO_API_KEY"]
    assert list(advised(UPLOAD_PROVIDER="cloudflare_imgbed")) == ["CLOUDFLARE_IMGBED_URL"]
    oss = ["OSS_ENDPOINT", "OSS_ACCESS_KEY", "OSS_ACCESS_KEY_SECRET", "OSS_BUCKET_NAME"]
    assert list(advised(UPLOAD_PROVIDER="aliyun_oss")) == oss
    assert list(advised(UPLOAD_PROVIDER="aliyun_oss", OSS_ENDPOINT="e", OSS_BUCKET_NAME="b")) == oss[1:3]
    assert list(advised(UPLOAD_PROVIDER="s3")) == ["S3_BUCKET_NAME", "S3_ACCESS_KEY", "S3_SECRET_KEY"]


def test_an_unknown_image_host_is_named() -> None:
    assert "not a known image host" in advised(UPLOAD_PROVIDER="imgur")["UPLOAD_PROVIDER"]


def test_a_short_time_out_is_advised_against_unless_fake_streaming_keeps_streams_alive() -> None:
    assert "FAKE_STREAM_ENABLED" in advised(TIME_OUT=30)["TIME_OUT"]
    assert advised(TIME_OUT=30, FAKE_STREAM_ENABLED=True) == {}


def test_a_short_admin_token_is_advised_against() -> None:
    assert "AUTH_TOKEN" in advised(AUTH_TOKEN="admin")
    assert advised(AUTH_TOKEN="a-long-random-admin-token-0123456789") == {}


def test_a_stored_value_the_schema_now_refuses_gives_way_to_its_default() -> None:
    stored = LiveSettings(MAX_RETRIES=7).to_wire() | {"TTS_SPEED": '"brisk"', "TIME_OUT": "not json"}
    settings, refused = LiveSettings.from_wire_checked(stored)
    assert settings.MAX_RETRIES == 7  # every other setting still applies
    assert settings.TTS_SPEED == LiveSettings().TTS_SPEED and settings.TIME_OUT == LiveSettings().TIME_OUT
    assert set(refused) == {"TTS_SPEED", "TIME_OUT"} and "very slow" in refused["TTS_SPEED"]
    assert LiveSettings.from_wire(stored) == settings
