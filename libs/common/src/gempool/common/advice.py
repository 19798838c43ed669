"""Settings that are valid one by one but will not do what the user likely wants together.

The admin API and panel show these notices next to the settings, so a user learns why images come
back inline or a long answer is cut before filing a bug (gemini-balance's FAQ 3 and 12 are users
who could not tell). Pure: one function over the live settings.
"""

from dataclasses import dataclass

from gempool.common.digests import SHORT_TOKEN, is_short
from gempool.common.live import LiveSettings

UPLOAD_CREDENTIALS = {
    "smms": ("SMMS_SECRET_TOKEN",),
    "picgo": ("PICGO_API_KEY", "PICGO_API_URL"),
    "cloudflare_imgbed": ("CLOUDFLARE_IMGBED_URL",),
    "aliyun_oss": ("OSS_ENDPOINT", "OSS_ACCESS_KEY", "OSS_ACCESS_KEY_SECRET", "OSS_BUCKET_NAME"),
    "s3": ("S3_BUCKET_NAME", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION"),
}
# Below this, a thinking model's first byte may come after the attempt's deadline.
THINKING_TIME_OUT = 120.0
SHORT_ADMIN_TOKEN = SHORT_TOKEN


@dataclass(frozen=True, slots=True)
class Advice:
    setting: str
    message: str


def advise(live: LiveSettings) -> list[Advice]:
    out: list[Advice] = []
    provider = live.UPLOAD_PROVIDER.strip().lower()
    if provider != "local" and provider not in UPLOAD_CREDENTIALS:
        known = ", ".join(["local", *UPLOAD_CREDENTIALS])
        out.append(
            Advice(
                "UPLOAD_PROVIDER",
                f"{live.UPLOAD_PROVIDER!r} is not a known image host ({known}): generated images are "
                "kept with the local provider and served by the gateway.",
            )
        )
    for needed in UPLOAD_CREDENTIALS.get(provider, ()):
        if not getattr(live, needed):
            out.append(
                Advice(
                    needed,
                    f"UPLOAD_PROVIDER is {provider} but {needed} is empty: every upload fails and the "
                    "image is kept with the local provider instead (see the error log).",
                )
            )
    if live.TIME_OUT < THINKING_TIME_OUT and not live.FAKE_STREAM_ENABLED:
        out.append(
            Advice(
                "TIME_OUT",
                f"{live.TIME_OUT:g} s may end long thinking answers before their first byte; raise it, "
                "or turn on FAKE_STREAM_ENABLED so streams get keep-alives while the model thinks.",
            )
        )
    if is_short(live.AUTH_TOKEN):  # only the digest is kept; it says whether the token was short
        out.append(
            Advice(
                "AUTH_TOKEN",
                f"The admin token is shorter than {SHORT_ADMIN_TOKEN} characters; anyone who guesses it "
                "controls every key. Use a long random one.",
            )
        )
    return out
