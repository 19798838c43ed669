"""Speech pace: Gemini TTS models take it from words in the prompt, not from a parameter.

Google's speech generation guide steers style, accent, pace and tone with natural language in the
prompt ("Say cheerfully: ..."); ``speechConfig`` has no speed field. So TTS_SPEED, and OpenAI's
``speed`` field of ``audio/speech`` (0.25 to 4.0, 1 is normal; it wins over the setting), become a
direction that opens the prompt:

============  =========================  ==================================
TTS_SPEED     OpenAI ``speed``           prompt
============  =========================  ==================================
very slow     0.25 to 0.5                ``Say at a very slow pace: TEXT``
slow          above 0.5, below 0.9       ``Say at a slow pace: TEXT``
normal        0.9 to 1.1                 ``TEXT`` (as sent)
fast          above 1.1, below 2         ``Say at a fast pace: TEXT``
very fast     2 to 4                     ``Say at a very fast pace: TEXT``
============  =========================  ==================================

A number in TTS_SPEED maps as OpenAI's ``speed`` does. With OpenAI's ``instructions`` the pace
joins them: ``Speak warmly, at a fast pace: TEXT``.
"""

from gempool.common.live import TTS_PACES

NORMAL = "normal"


def pace_of_speed(speed: float) -> str:
    """OpenAI's ``speed`` multiplier -> one of TTS_PACES."""
    if speed <= 0.5:
        return "very slow"
    if speed < 0.9:
        return "slow"
    if speed <= 1.1:
        return NORMAL
    return "fast" if speed < 2.0 else "very fast"


def pace_of_setting(value: str) -> str:
    """TTS_SPEED (a pace word or a number, as live.py validates it) -> one of TTS_PACES."""
    return value if value in TTS_PACES else pace_of_speed(float(value))


def pace_for(setting: str, speed: float | None = None) -> str:
    """The pace of one request: the client's ``speed`` when it sent one, else TTS_SPEED."""
    return pace_of_speed(speed) if speed is not None else pace_of_setting(setting)


def spoken(text: str, pace: str, instructions: str = "") -> str:
    """The prompt that says ``text`` at ``pace``, after the client's own ``instructions``."""
    direction = instructions.strip().rstrip(":").strip()
    if pace != NORMAL:
        direction = f"{direction.rstrip('.')}, at a {pace} pace" if direction else f"Say at a {pace} pace"
    return f"{direction}: {text}" if direction else text
