"""The panel reads secrets masked and may send them back: masked entries keep the stored value."""

import pytest
from fastapi import HTTPException

from gempool.gateway.admin.deps import masked
from gempool.gateway.admin.settings import unmasked

STORED = ["team-a-long-token-1", "team-b-long-token-2"]


def test_masked_entries_become_the_stored_ones() -> None:
    sent = [*masked(STORED), "brand-new-token"]
    assert sent[:2] == ["team...en-1", "team...en-2"]
    assert unmasked("ALLOWED_TOKENS", sent, STORED) == [*STORED, "brand-new-token"]
    assert unmasked("ALLOWED_TOKENS", sent[1:], STORED) == [STORED[1], "brand-new-token"]  # one removed
    assert unmasked("AUTH_TOKEN", "x", "y") == "x"


def test_a_mask_shared_by_two_entries_is_refused() -> None:
    short = ["tok-aaaa", "tok-bbbb"]  # both mask to ***(8)
    with pytest.raises(HTTPException) as refused:
        unmasked("ALLOWED_TOKENS", ["***(8)"], short)
    assert refused.value.status_code == 422
    assert unmasked("ALLOWED_TOKENS", ["tok-aaaa", "tok-cccc"], short) == ["tok-aaaa", "tok-cccc"]
