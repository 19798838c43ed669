"""The typed schema of every live setting (the ones stored by the config service).

Names follow gemini-balance so an existing ``.env`` seeds gempool unchanged. Values travel between
services as JSON text keyed by name; :class:`LiveSettings` turns such a map into typed values.
Process settings (ports, addresses, database URL) are not here: each service reads those from its
environment (see each service's ``settings.py``).
"""

import json
import logging
import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from gempool.common.digests import stored_form

log = logging.getLogger(__name__)

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
TTS_PACES = ("very slow", "slow", "normal", "fast", "very fast")  # TTS_SPEED's words (gemini-balance: normal)
TTS_SPEED_MIN, TTS_SPEED_MAX = 0.25, 4.0  # OpenAI's audio/speech ``speed`` range


def split_list(value: Any) -> Any:
    """Accept a JSON list (``["a","b"]``) or a plain comma/newline list (``a, b``)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"looks like a JSON list but is not valid JSON ({exc.msg})") from None
        parts = [p.strip().strip("\"'") for p in text.replace("\n", ",").split(",")]
        return [p for p in parts if p]
    return value


def parse_json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"must be JSON ({exc.msg})") from None
    return value


StrList = Annotated[list[str], BeforeValidator(split_list)]
JsonMap = Annotated[dict[str, Any], BeforeValidator(parse_json)]
JsonList = Annotated[list[dict[str, Any]], BeforeValidator(parse_json)]


def _field(default: Any, group: str, description: str, **kw: Any) -> Any:
    extra = {"group": group, **kw.pop("extra", {})}
    return Field(default, description=description, json_schema_extra=extra, **kw)


class LiveSettings(BaseModel):
    """Every setting the admin panel can change without a restart."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True, frozen=True)

    # --- access
    ALLOWED_TOKENS: StrList = _field(
        [],
        "access",
        "Client tokens allowed to call the API (stored as SHA-256 digests).",
        extra={"secret": True},
    )
    AUTH_TOKEN: str = _field(
        "",
        "access",
        "Admin token for the panel and admin API (stored as a SHA-256 digest).",
        extra={"secret": True},
    )
    ADMIN_SESSION_EXPIRE: int = _field(
        3600, "access", "Seconds an admin session (after login) lasts.", ge=60, le=30 * 86400
    )
    ADMIN_LOGIN_MAX_FAILURES: int = _field(
        10,
        "access",
        "Wrong admin tokens (at the login or as a Bearer) one client address may send within "
        "ADMIN_LOGIN_WINDOW_SECONDS; then it gets 429 until a whole window has passed.",
        ge=1,
        le=10_000,
    )
    ADMIN_LOGIN_WINDOW_SECONDS: int = _field(
        900,
        "access",
        "Seconds wrong admin tokens are counted over, and how long a locked-out address waits.",
        ge=1,
        le=86400,
    )
    CLIENT_AUTH_MAX_FAILURES: int = _field(
        20,
        "access",
        "Wrong API tokens (the admin token included) one client address may send to the model API "
        "within CLIENT_AUTH_WINDOW_SECONDS; then all its requests get 429 until a whole window has passed.",
        ge=1,
        le=100_000,
    )
    CLIENT_AUTH_WINDOW_SECONDS: int = _field(
        60,
        "access",
        "Seconds wrong API tokens are counted over, and how long a locked-out address waits.",
        ge=1,
        le=86400,
    )
    # --- upstream
    BASE_URL: str = _field(GEMINI_BASE_URL, "upstream", "Gemini API root; a trailing /v1beta or /v1 is fine.")
    TIME_OUT: float = _field(300.0, "upstream", "Seconds one upstream attempt may take.", gt=0, le=3600)
    MAX_RETRIES: int = _field(3, "upstream", "Further keys tried after a failed attempt.", ge=0, le=20)
    CUSTOM_HEADERS: JsonMap = _field(
        {}, "upstream", "Extra headers sent upstream, as a JSON object.", extra={"secret": True}
    )
    PROXIES: StrList = _field(
        [],
        "upstream",
        "Outbound proxies (http://, socks5://, user:password@ allowed).",
        extra={"secret": True},
    )
    PROXIES_USE_CONSISTENCY_HASH_BY_API_KEY: bool = _field(
        True, "upstream", "Each key always leaves through the same proxy."
    )
    VERTEX_EXPRESS_BASE_URL: str = _field(
        "https://aiplatform.googleapis.com/v1beta1/publishers/google", "upstream", "Vertex express root."
    )
    # --- key pool
    MAX_FAILURES: int = _field(
        3,
        "keys",
        "Connection errors, timeouts or 5xx without Google's error in a row after which the upstream "
        "(or one proxy) counts as down: a request failing on it stops trying other keys. They never "
        "retire a key.",
        ge=1,
        le=1000,
    )
    TEST_MODEL: str = _field("gemini-2.5-flash-lite", "keys", "Model used to probe keys.", min_length=1)
    CHECK_INTERVAL_HOURS: float = _field(1.0, "keys", "Hours between probes of retired keys.", gt=0)
    MODEL_KEY_TAGS: JsonMap = _field(
        {},
        "keys",
        'Models bound to key tags, as a JSON object of model patterns: {"gemini-2.5-pro*": "paid"} '
        "leases only keys tagged paid for those models.",
    )
    COOLDOWN_DEFAULT_SECONDS: float = _field(
        60.0, "keys", "Cooldown after a 429 that states no RetryInfo.", gt=0, le=86400
    )
    # --- models
    FILTERED_MODELS: StrList = _field([], "models", "Models hidden from the model list.")
    MODEL_LIST_REFRESH_SECONDS: float = _field(
        600.0, "models", "Seconds the upstream's model list is cached before it is fetched again.", gt=0
    )
    SEARCH_MODELS: StrList = _field(
        ["gemini-2.5-flash", "gemini-2.5-pro"], "models", "Models offered as {model}-search."
    )
    IMAGE_MODELS: StrList = _field(["gemini-2.0-flash-exp"], "models", "Models offered as {model}-image.")
    THINKING_MODELS: StrList = _field([], "models", "Models offered as {model}-non-thinking.")
    THINKING_BUDGET_MAP: JsonMap = _field({}, "models", "Thinking budget per model, as a JSON object.")
    SHOW_SEARCH_LINK: bool = _field(True, "models", "Append grounding sources to answers.")
    SHOW_THINKING_PROCESS: bool = _field(True, "models", "Return the model's thoughts.")
    TOOLS_CODE_EXECUTION_ENABLED: bool = _field(False, "models", "Add the code execution tool.")
    URL_CONTEXT_ENABLED: bool = _field(False, "models", "Add the URL context tool.")
    URL_CONTEXT_MODELS: StrList = _field([], "models", "Models that get the URL context tool.")
    SAFETY_SETTINGS: JsonList = _field([], "models", "Default safetySettings when a client sends none.")
    IMAGE_URL_PRIVATE_ALLOWED: bool = _field(
        False,
        "models",
        "Let image URLs in OpenAI messages point at private, loopback or link-local addresses.",
    )
    IMAGE_URL_MAX_COUNT: int = _field(
        10,
        "models",
        "Image URLs one OpenAI request may point at (each fetched by the gateway); more: 400.",
        ge=0,
        le=100,
    )
    IMAGE_URL_MAX_TOTAL_BYTES: int = _field(
        20 * 1024 * 1024,
        "models",
        "Bytes the image URLs of one request may add up to (each image is also at most 20 MiB); "
        "beyond it the request gets 400 and the fetches stop.",
        ge=0,
        le=256 * 1024 * 1024,
    )
    CREATE_IMAGE_MODEL: str = _field("imagen-3.0-generate-002", "models", "Model for image generation.")
    TTS_MODEL: str = _field("gemini-2.5-flash-preview-tts", "models", "Text-to-speech model.")
    TTS_VOICE_NAME: str = _field("Zephyr", "models", "Text-to-speech voice.")
    TTS_SPEED: str = _field(
        "normal",
        "models",
        "Text-to-speech pace: very slow, slow, normal, fast, very fast, or a speed from 0.25 to 4.0 "
        "as OpenAI's (1 is normal); told to the TTS model in the prompt.",
    )
    # --- files
    FILES_USER_ISOLATION_ENABLED: bool = _field(
        True, "files", "Each client token lists, reads, deletes and names in prompts only its own files."
    )
    FILES_CLEANUP_ENABLED: bool = _field(True, "files", "Forget records of files past their expiration.")
    FILES_CLEANUP_INTERVAL_HOURS: float = _field(
        1.0, "files", "Hours between sweeps of expired file records.", gt=0
    )
    # --- streaming
    FAKE_STREAM_ENABLED: bool = _field(False, "stream", "Serve streams from a non-streaming call.")
    FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS: float = _field(5.0, "stream", "Keep-alive interval.", gt=0)
    STREAM_OPTIMIZER_ENABLED: bool = _field(False, "stream", "Smooth long chunks into a steady flow.")
    STREAM_MIN_DELAY: float = _field(
        0.016,
        "stream",
        "Seconds between pieces of a long text (shorter ones: up to STREAM_MAX_DELAY).",
        ge=0,
        le=1,
    )
    STREAM_MAX_DELAY: float = _field(
        0.024, "stream", "Seconds between pieces of a short text (one character each).", ge=0, le=1
    )
    STREAM_SHORT_TEXT_THRESHOLD: int = _field(
        10, "stream", "Texts up to this length are paced at STREAM_MAX_DELAY.", ge=1
    )
    STREAM_LONG_TEXT_THRESHOLD: int = _field(
        50, "stream", "Texts from this length go out STREAM_CHUNK_SIZE characters at a time.", ge=1
    )
    STREAM_CHUNK_SIZE: int = _field(5, "stream", "Characters per piece of a long text.", ge=1)
    # --- images
    UPLOAD_PROVIDER: str = _field(
        "local",
        "images",
        "Where generated images go: local, smms, picgo, cloudflare_imgbed, aliyun_oss, s3. When the "
        "chosen host fails, the image is kept with local.",
    )
    SMMS_SECRET_TOKEN: str = _field("", "images", "SM.MS token.", extra={"secret": True})
    PICGO_API_KEY: str = _field("", "images", "PicGo API key.", extra={"secret": True})
    PICGO_API_URL: str = _field(
        "https://www.picgo.net/api/1/upload", "images", "PicGo (Chevereto) upload URL."
    )
    CLOUDFLARE_IMGBED_URL: str = _field("", "images", "CloudFlare ImgBed upload URL.")
    CLOUDFLARE_IMGBED_AUTH_CODE: str = _field(
        "", "images", "CloudFlare ImgBed auth code.", extra={"secret": True}
    )
    CLOUDFLARE_IMGBED_UPLOAD_FOLDER: str = _field(
        "", "images", "CloudFlare ImgBed folder for uploads (its uploadFolder); empty: the root."
    )
    OSS_ENDPOINT: str = _field(
        "", "images", "Aliyun OSS public endpoint, e.g. oss-cn-shanghai.aliyuncs.com (image links use it)."
    )
    OSS_ENDPOINT_INNER: str = _field(
        "", "images", "Aliyun OSS internal endpoint for the upload itself (same VPC); empty: OSS_ENDPOINT."
    )
    OSS_ACCESS_KEY: str = _field("", "images", "Aliyun AccessKey ID.")
    OSS_ACCESS_KEY_SECRET: str = _field("", "images", "Aliyun AccessKey secret.", extra={"secret": True})
    OSS_BUCKET_NAME: str = _field("", "images", "Aliyun OSS bucket (public-read for image links).")
    OSS_REGION: str = _field(
        "", "images", "Aliyun OSS region, e.g. cn-shanghai; empty: read from OSS_ENDPOINT."
    )
    S3_ENDPOINT_URL: str = _field(
        "", "images", "S3-compatible endpoint (R2, MinIO, Ceph); empty: AWS S3 in S3_REGION."
    )
    S3_REGION: str = _field("us-east-1", "images", "S3 region (R2: auto).")
    S3_BUCKET_NAME: str = _field("", "images", "S3 bucket for generated images.")
    S3_ACCESS_KEY: str = _field("", "images", "S3 access key id.")
    S3_SECRET_KEY: str = _field("", "images", "S3 secret access key.", extra={"secret": True})
    S3_PUBLIC_URL: str = _field(
        "", "images", "Base URL image links use (a CDN or public bucket domain); empty: the endpoint's."
    )
    S3_PATH_STYLE: bool = _field(
        False, "images", "Address the bucket in the path (MinIO, Ceph) instead of the host name."
    )
    UPLOAD_RETRIES: int = _field(
        2,
        "images",
        "Extra tries of an upload that failed for a passing reason (network, 5xx, 429).",
        ge=0,
        le=5,
    )
    LOCAL_IMAGE_MAX_AGE_HOURS: float = _field(
        168,
        "images",
        "Images kept by the local provider are deleted after this many hours; 0 keeps them.",
        ge=0,
    )
    LOCAL_IMAGE_MAX_TOTAL_MB: float = _field(
        1024, "images", "The local image folder is kept under this size, oldest first; 0: no limit.", ge=0
    )
    # --- logs
    LOG_LEVEL: str = _field("INFO", "logs", "DEBUG, INFO, WARNING or ERROR.")
    ERROR_LOG_RECORD_REQUEST_BODY: bool = _field(False, "logs", "Store the request body with error logs.")
    AUTO_DELETE_ERROR_LOGS_ENABLED: bool = _field(True, "logs", "Delete old error logs.")
    AUTO_DELETE_ERROR_LOGS_DAYS: int = _field(7, "logs", "Days error logs are kept.", ge=1)
    AUTO_DELETE_REQUEST_LOGS_ENABLED: bool = _field(False, "logs", "Delete old request logs.")
    AUTO_DELETE_REQUEST_LOGS_DAYS: int = _field(30, "logs", "Days request logs are kept.", ge=1)
    TIMEZONE: str = _field("UTC", "logs", "Time zone for displayed times.")

    @field_validator("LOG_LEVEL")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("TTS_SPEED")
    @classmethod
    def _tts_speed(cls, value: str) -> str:
        pace = " ".join(value.lower().split())
        if pace in TTS_PACES:
            return pace
        try:
            speed = float(pace)
        except ValueError:
            speed = math.nan
        if not TTS_SPEED_MIN <= speed <= TTS_SPEED_MAX:
            raise ValueError(f"must be one of {', '.join(TTS_PACES)}, or a number from 0.25 to 4.0")
        return pace

    @field_validator("BASE_URL", "VERTEX_EXPRESS_BASE_URL")
    @classmethod
    def _url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url

    @field_validator("AUTH_TOKEN")
    @classmethod
    def _admin_digest(cls, value: str) -> str:
        """Only a digest is kept (see gempool.common.digests); it notes a short token for the advice."""
        return stored_form(value.strip(), note_short=True)

    @field_validator("ALLOWED_TOKENS")
    @classmethod
    def _client_digests(cls, value: list[str]) -> list[str]:
        return [stored_form(token) for token in value]

    @field_validator("PROXIES")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            if not proxy.startswith(("http://", "https://", "socks5://", "socks5h://")):
                raise ValueError(f"{proxy!r} must start with http://, https://, socks5:// or socks5h://")
        return value

    # ---- encoding between services

    @classmethod
    def from_wire(cls, values: Mapping[str, str]) -> "LiveSettings":
        """Build from the config service's map of JSON-encoded values (unknown names ignored).

        A stored value this schema refuses (one a newer release validates more strictly) gives way
        to its default, with a warning, instead of taking every other setting down with it.
        """
        settings, refused = cls.from_wire_checked(values)
        for name, why in refused.items():
            log.warning("stored setting refused; its default applies", extra={"setting": name, "why": why})
        return settings

    @classmethod
    def from_wire_checked(cls, values: Mapping[str, str]) -> "tuple[LiveSettings, dict[str, str]]":
        """``from_wire`` and what it refused: {name: why}."""
        data: dict[str, Any] = {}
        refused: dict[str, str] = {}
        for name, text in values.items():
            if name not in cls.model_fields:
                continue
            try:
                data[name] = json.loads(text)
            except json.JSONDecodeError:
                refused[name] = "not JSON"
        try:
            return cls.model_validate(data), refused
        except ValidationError as exc:
            refused |= validation_errors(exc)
        return cls.model_validate({k: v for k, v in data.items() if k not in refused}), refused

    def to_wire(self) -> dict[str, str]:
        return {k: json.dumps(v) for k, v in self.model_dump(mode="json").items()}


# Settings that name upstream keys: seeded into key records, not into the settings table.
KEY_SETTINGS = ("API_KEYS", "PAID_KEY", "VERTEX_API_KEYS")


class SettingError(ValueError):
    """One or more settings are invalid; ``errors`` maps each name to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in errors.items()))


def validation_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        msg = err["msg"].removeprefix("Value error, ")
        out.setdefault(name, msg)
    return out


def validate(current: LiveSettings, changes: Mapping[str, Any]) -> LiveSettings:
    """Apply raw changes (strings from env or the panel, or decoded JSON) to ``current``."""
    unknown = [k for k in changes if k not in LiveSettings.model_fields]
    if unknown:
        raise SettingError(dict.fromkeys(unknown, "unknown setting"))
    data = current.model_dump() | dict(changes)
    try:
        return LiveSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingError(validation_errors(exc)) from None


def parse_key_list(name: str, raw: str) -> list[str]:
    """Parse API_KEYS-style values; raises SettingError naming the setting."""
    try:
        keys = split_list(raw)
    except ValueError as exc:
        raise SettingError({name: str(exc)}) from None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SettingError({name: "must be a list of strings"})
    return [k.strip() for k in keys if k.strip()]
