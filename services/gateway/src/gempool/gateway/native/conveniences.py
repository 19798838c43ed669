"""Model conveniences: derived model names and default request settings, for every dialect.

``apply_conveniences(model, body, settings)`` turns what a client asked for (a model name as the
client spelled it and a parsed ``generateContent`` body) into what goes upstream. It is pure: the
given body is never changed, and every field it does not touch reaches the upstream as sent.

- ``{m}-search`` (m in SEARCH_MODELS) adds the Google Search tool.
- ``{m}-image`` (m in IMAGE_MODELS) asks for text and image output, never gets code execution.
- ``{m}-non-thinking`` (m in THINKING_MODELS) gets a zero thinking budget (128 on 2.5 Pro, which
  cannot switch thinking off; the lowest ``thinkingLevel`` on Gemini 3).
- THINKING_BUDGET_MAP fills ``thinkingConfig`` when the client sent none, with ``includeThoughts``
  when SHOW_THINKING_PROCESS is on (a native client that asks for nothing gets no thought parts).
- TOOLS_CODE_EXECUTION_ENABLED, URL_CONTEXT_ENABLED + URL_CONTEXT_MODELS add those tools, never
  beside function declarations (Google refuses the mix) nor on image or speech models.
- SAFETY_SETTINGS is the default when the client sent no ``safetySettings``.
- TTS models get ``responseModalities: ["AUDIO"]`` and TTS_VOICE_NAME when the client set neither,
  and a TTS_SPEED other than normal as words before the last user turn's text (see pace.py).

A suffix counts only when the base model is in its list, so real upstream names that happen to end
the same way (``gemini-2.5-flash-image``) pass through untouched.
"""

import functools
from dataclasses import dataclass
from typing import Any

from gempool.common.live import LiveSettings
from gempool.gateway.native.pace import NORMAL as NORMAL_PACE
from gempool.gateway.native.pace import pace_of_setting, spoken

SEARCH, IMAGE, NON_THINKING = "-search", "-image", "-non-thinking"
SUFFIXES = (SEARCH, IMAGE, NON_THINKING)
Body = dict[str, Any]


@dataclass(frozen=True)
class Variant:
    """A requested model name, split into the upstream model and the conveniences it asks for."""

    base: str
    search: bool = False
    image: bool = False
    non_thinking: bool = False

    @property
    def derived(self) -> bool:
        return self.search or self.image or self.non_thinking


def parse_model(model: str, settings: LiveSettings) -> Variant:
    """``gemini-2.5-flash-search`` -> base ``gemini-2.5-flash`` with search, if the lists allow it."""
    base, found = model, set[str]()
    while True:
        suffix = next((s for s in SUFFIXES if base.endswith(s) and s not in found), None)
        if suffix is None:
            break
        base, found = base[: -len(suffix)], found | {suffix}
    allowed = {
        SEARCH: settings.SEARCH_MODELS,
        IMAGE: settings.IMAGE_MODELS,
        NON_THINKING: settings.THINKING_MODELS,
    }
    if not found or any(base not in allowed[s] for s in found):
        return Variant(model)
    return Variant(base, SEARCH in found, IMAGE in found, NON_THINKING in found)


def derived_names(settings: LiveSettings) -> list[str]:
    """Every extra model name the settings offer, in list order."""
    return (
        [f"{m}{SEARCH}" for m in settings.SEARCH_MODELS]
        + [f"{m}{IMAGE}" for m in settings.IMAGE_MODELS]
        + [f"{m}{NON_THINKING}" for m in settings.THINKING_MODELS]
    )


def is_tts(model: str) -> bool:
    return "tts" in model.lower()


def may_apply(model: str, settings: LiveSettings) -> bool:
    """Cheap test, on the model name alone: could any convenience change this request's body?

    False means the body can go upstream as raw bytes, unparsed.
    """
    if settings.SAFETY_SETTINGS or settings.TOOLS_CODE_EXECUTION_ENABLED or is_tts(model):
        return True
    if settings.URL_CONTEXT_ENABLED and settings.URL_CONTEXT_MODELS:
        return True
    if model.endswith(SUFFIXES):
        return True
    return model in settings.THINKING_BUDGET_MAP


def apply_conveniences(
    model: str, body: dict[str, Any], settings: LiveSettings
) -> tuple[str, dict[str, Any]]:
    """``(upstream model, upstream body)`` for a generateContent request to ``model``."""
    variant = parse_model(model, settings)
    out: Body = dict(body)
    config: Body = dict(_get(out, "generationConfig") or {})
    _thinking(variant, config, settings)
    if variant.image:
        _ask_for_images(config)
        _fold_system_instruction(out)
    if is_tts(variant.base):
        _speech(out, config, settings)
    else:
        tools = _tools(variant, out, config, settings)
        if tools is not None:
            _set(out, "tools", tools)
        if settings.SAFETY_SETTINGS and _get(out, "safetySettings") is None:
            out["safetySettings"] = [dict(s) for s in settings.SAFETY_SETTINGS]
    if config or _get(out, "generationConfig") is not None:
        _set(out, "generationConfig", config)
    return variant.base, out


# ---- field access: REST accepts camelCase and snake_case names alike


@functools.cache  # called with our own field names only
def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _get(obj: Body, name: str) -> Any:
    value = obj.get(name)
    return obj.get(_snake(name)) if value is None else value


def _set(obj: Body, name: str, value: Any) -> None:
    """Write under whichever spelling the client used (camelCase when it used neither)."""
    obj[_snake(name) if _snake(name) in obj and name not in obj else name] = value


def _has(obj: Body, name: str) -> bool:
    return name in obj or _snake(name) in obj


# ---- the conveniences


def _thinking(variant: Variant, config: Body, settings: LiveSettings) -> None:
    if _has(config, "thinkingConfig"):
        return  # the client's own choice wins
    base = variant.base
    if variant.non_thinking:
        config["thinkingConfig"] = least_thinking(base)
        return
    if base in settings.THINKING_BUDGET_MAP:
        thinking: Body = {"thinkingBudget": int(settings.THINKING_BUDGET_MAP[base])}
        if settings.SHOW_THINKING_PROCESS:
            thinking["includeThoughts"] = True
        config["thinkingConfig"] = thinking


def least_thinking(model: str) -> Body:
    """The smallest thinking a model allows: off where it can be, else its lowest setting."""
    if model.startswith("gemini-3"):  # levels, not budgets; Pro goes no lower than "low"
        return {"thinkingLevel": "low" if "pro" in model else "minimal"}
    return {"thinkingBudget": 128 if "2.5-pro" in model else 0}  # 2.5 Pro: 128 to 32768


def _ask_for_images(config: Body) -> None:
    modalities = [str(m).upper() for m in _get(config, "responseModalities") or []]
    if "IMAGE" not in modalities:
        _set(config, "responseModalities", ["TEXT", "IMAGE"])


def _fold_system_instruction(out: Body) -> None:
    """Image output models refuse system instructions: say them first in the first user turn."""
    key = "systemInstruction" if "systemInstruction" in out else "system_instruction"
    instruction = out.get(key)
    if not isinstance(instruction, dict) or not instruction.get("parts"):
        return
    contents = [dict(c) if isinstance(c, dict) else c for c in out.get("contents") or []]
    for content in contents:
        if isinstance(content, dict) and content.get("role", "user") == "user":
            content["parts"] = list(instruction["parts"]) + list(content.get("parts") or [])
            break
    else:
        contents.insert(0, {"role": "user", "parts": list(instruction["parts"])})
    out["contents"] = contents
    del out[key]


def _speech(out: Body, config: Body, settings: LiveSettings) -> None:
    if not _get(config, "responseModalities"):
        _set(config, "responseModalities", ["AUDIO"])
    if not _has(config, "speechConfig") and settings.TTS_VOICE_NAME:
        voice = {"prebuiltVoiceConfig": {"voiceName": settings.TTS_VOICE_NAME}}
        config["speechConfig"] = {"voiceConfig": voice}
    pace = pace_of_setting(settings.TTS_SPEED)
    if pace != NORMAL_PACE:
        _pace_prompt(out, pace)


def _pace_prompt(out: Body, pace: str) -> None:
    """TTS_SPEED as words before the first text of the last user turn (copied, never changed)."""
    contents = out.get("contents")
    turns = [
        i for i, c in enumerate(contents or ()) if isinstance(c, dict) and c.get("role", "user") == "user"
    ]
    if not isinstance(contents, list) or not turns:
        return
    index = turns[-1]
    content = contents[index]
    parts = list(content.get("parts") or [])
    for position, part in enumerate(parts):
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts[position] = part | {"text": spoken(part["text"], pace)}
            out["contents"] = [*contents[:index], content | {"parts": parts}, *contents[index + 1 :]]
            return


TOOL_NAMES = ("googleSearch", "codeExecution", "urlContext")


def _tools(variant: Variant, out: Body, config: Body, settings: LiveSettings) -> list[Any] | None:
    """The request's tools with ours added, or None when nothing changes."""
    tools = _get(out, "tools")
    tools = [tools] if isinstance(tools, dict) else list(tools or [])
    present = {name for t in tools if isinstance(t, dict) for name in TOOL_NAMES if _has(t, name)}
    if any(isinstance(t, dict) and _has(t, "functionDeclarations") for t in tools):
        return None
    wanted: list[str] = []
    if variant.search:
        wanted.append("googleSearch")
    if settings.TOOLS_CODE_EXECUTION_ENABLED and _code_execution_allowed(variant, out, config):
        wanted.append("codeExecution")
    if settings.URL_CONTEXT_ENABLED and variant.base in settings.URL_CONTEXT_MODELS and not variant.image:
        wanted.append("urlContext")
    added: list[Body] = [{name: {}} for name in wanted if name not in present]
    return tools + added if added else None


def _code_execution_allowed(variant: Variant, out: Body, config: Body) -> bool:
    """Not with search, not for image models or image output, not when the prompt holds images."""
    if variant.search or variant.image or "image" in variant.base.lower():
        return False
    if "IMAGE" in [str(m).upper() for m in _get(config, "responseModalities") or []]:
        return False
    return not _has_image_parts(out.get("contents"))


def _has_image_parts(contents: Any) -> bool:
    for content in contents or ():
        for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
            blob = _get(part, "inlineData") or _get(part, "fileData") if isinstance(part, dict) else None
            if isinstance(blob, dict) and str(_get(blob, "mimeType") or "").startswith("image/"):
                return True
    return False
