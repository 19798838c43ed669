"""The scrubber: leased keys and anything shaped like a Google key leave a process masked."""

import pytest

from gempool.common.scrub import scrub, scrub_bytes

KEY = "AIzaSyAhTarnL1PaQn_yu_uVf0gia9wUyJx8RSI"  # 39 characters, Google's shape
NEW_KEY = "AQ.Ab8RN6LaWHRTcXU1MWIN6wI1sYsFoaWBkqiVVVLx0Y8KBUJ6AQ"  # Gemini / Vertex express shape
SUSPENDED = f"Permission denied: Consumer 'api_key:{KEY}' has been suspended."


def test_a_suspended_keys_message_keeps_only_the_masked_key() -> None:
    assert scrub(SUSPENDED) == "Permission denied: Consumer 'api_key:AIza...8RSI' has been suspended."


def test_bytes_are_scrubbed_alike() -> None:
    body = b'{"error": {"message": "' + SUSPENDED.encode() + b'"}}'
    out = scrub_bytes(body)
    assert KEY.encode() not in out and b"AIza...8RSI" in out


@pytest.mark.parametrize("text", [NEW_KEY, f"key={NEW_KEY}&x=1", f"bearer {NEW_KEY}."])
def test_the_newer_key_shape_is_masked(text: str) -> None:
    out = scrub(text)
    assert NEW_KEY not in out and "AQ.A...J6AQ" in out


def test_a_leased_key_of_any_shape_is_masked() -> None:
    leased = "vertex-secret-0123456789"
    out = scrub(f"the key {leased} was refused", leased)
    assert leased not in out and "vert...6789" in out
    assert scrub_bytes(f"x {leased} y".encode(), leased) == b"x vert...6789 y"


def test_a_truncated_key_is_still_masked() -> None:
    cut = SUSPENDED[: SUSPENDED.index(KEY) + 30]
    assert KEY[:30] not in scrub(cut)


def test_text_without_secrets_is_returned_as_it_was() -> None:
    text = "You exceeded your current quota; AIza alone is no key."
    assert scrub(text, "") is text
    body = b'{"candidates": []}'
    assert scrub_bytes(body) is body


def test_short_secrets_do_not_mangle_words() -> None:
    assert scrub("the key ok was fine", "ok") == "the key ok was fine"


def test_scrubbing_twice_changes_nothing_more() -> None:
    once = scrub(SUSPENDED, KEY)
    assert scrub(once, KEY) == once
