"""Tool call ids that carry Gemini's ``thoughtSignature`` through an OpenAI client and back.

Gemini 3 returns a signature with its function calls and refuses the next turn unless it comes
back. OpenAI clients keep only a tool call's id, name and arguments, so the signature rides in the
id (``call_<random>.ts.<signature>``); it is also sent as
``extra_content.google.thought_signature``, the field Google's own OpenAI endpoint uses, and read
back from either place.
"""

import secrets
from typing import Any

MARK = ".ts."  # "." is in neither base64 alphabet, so the split is unambiguous
SKIP_SIGNATURE = "skip_thought_signature_validator"


def new_id(signature: str | None = None) -> str:
    base = f"call_{secrets.token_hex(12)}"
    return f"{base}{MARK}{signature}" if signature else base


def signature(call_id: str, extra_content: dict[str, Any] | None = None) -> str | None:
    google = (extra_content or {}).get("google")
    if isinstance(google, dict) and isinstance(google.get("thought_signature"), str):
        return str(google["thought_signature"])
    _, mark, found = call_id.partition(MARK)
    return found if mark and found else None


def extra_content(sig: str | None) -> dict[str, Any] | None:
    return {"google": {"thought_signature": sig}} if sig else None
