"""File records: which key holds a file, expiry, sweeping, listing per owner."""

from gempool.common.live import LiveSettings
from gempool.gateway.native.files.store import FileStore, expiry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def file(name: str, created: str = "2025-01-01T00:00:00Z", expires: str = "") -> dict[str, str]:
    return {"name": name, "createTime": created, "expirationTime": expires}


def test_key_for_finds_a_known_file_in_a_raw_body() -> None:
    files = FileStore()
    files.remember(file("files/abc123"), "key-a", "owner")
    body = b'{"contents":[{"parts":[{"fileData":{"fileUri":"https://host/v1beta/files/abc123"}}]}]}'
    assert files.key_for(body) == "key-a"
    assert files.key_for(b'{"fileUri":"https://host/v1beta/files/other"}') == ""
    assert FileStore().key_for(body) == "", "no records: nothing to look for"


def test_expiry_reads_googles_timestamps() -> None:
    assert expiry({"expirationTime": "2025-01-03T00:00:00.123456789Z"}, 0) == 1735862400.123456
    assert expiry({}, 100.0) == 100.0 + 48 * 3600


def test_sweep_forgets_expired_records_once_per_interval() -> None:
    clock = Clock()
    files = FileStore(clock)
    files.remember(file("files/old", expires="1970-01-01T00:00:00Z"), "k", "o")
    files.remember(file("files/new", expires="2999-01-01T00:00:00Z"), "k", "o")
    settings = LiveSettings(FILES_CLEANUP_INTERVAL_HOURS=1)
    assert files.sweep(settings) == 0, "not due yet"
    clock.now += 3601
    assert files.sweep(settings) == 1 and files.get("files/old") is None and len(files) == 1
    clock.now += 7200
    files.remember(file("files/old2", expires="1970-01-01T00:00:00Z"), "k", "o")
    assert files.sweep(settings.model_copy(update={"FILES_CLEANUP_ENABLED": False})) == 0


def test_listing_is_newest_first_and_per_owner() -> None:
    files = FileStore()
    files.remember(file("files/a", created="2025-01-01T00:00:00Z"), "k", "alice")
    files.remember(file("files/b", created="2025-01-02T00:00:00Z"), "k", "bob")
    files.remember(file("files/c", created="2025-01-03T00:00:00Z"), "k", "alice")
    assert [r.name for r in files.listing("alice")] == ["files/c", "files/a"]
    assert [r.name for r in files.listing(None)] == ["files/c", "files/b", "files/a"]
    assert files.remember({"name": "not-a-file"}, "k", "o") is None
