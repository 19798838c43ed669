"""Render the settings tables of README.md from the code (``python scripts/settings_doc.py --write``).

tests/test_readme.py fails when README.md and this output differ, so the README cannot drift.
"""

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gempool.common.live import LiveSettings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"

KEY_SEEDS = [
    ("API_KEYS", "Gemini API keys of the free rotation: a JSON list or a comma list."),
    ("PAID_KEY", "A billed key, used only for models that need one (imagen)."),
    ("VERTEX_API_KEYS", "Vertex express keys, a second pool."),
]


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if isinstance(value, str):
        return f"`{value}`" if value else "(empty)"
    if isinstance(value, list | dict):
        return f"`{value!r}`" if value else "(empty)"
    return f"`{value}`"


def _rows(model: type[BaseModel], names: list[str] | None = None) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if names is not None and name not in names:
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        group = f"{extra['group']}: " if "group" in extra else ""
        rows.append(f"| `{name}` | {_default(field)} | {group}{field.description or ''} |")
    return rows


def process_settings() -> list[tuple[str, type[BaseModel]]]:
    from gempool.config.settings import ConfigServiceSettings
    from gempool.gateway.settings import GatewaySettings
    from gempool.imagehost.settings import ImageHostSettings
    from gempool.keypool.settings import KeyPoolSettings

    return [
        ("gateway", GatewaySettings),
        ("keypool", KeyPoolSettings),
        ("config", ConfigServiceSettings),
        ("imagehost", ImageHostSettings),
    ]


def render() -> str:
    out = [
        START,
        "",
        "Live settings (stored by the config service; the environment seeds them on the first start):",
        "",
        "| name | default | what it does |",
        "|---|---|---|",
    ]
    out += [f"| `{name}` | (empty) | keys: {text} |" for name, text in KEY_SEEDS]
    out += _rows(LiveSettings)
    for service, model in process_settings():
        out += [
            "",
            f"Process settings of **{service}** (environment or `.env`, read at start):",
            "",
            "| name | default | what it does |",
            "|---|---|---|",
        ]
        out += _rows(model)
    out += ["", END]
    return "\n".join(out)


def current() -> str:
    text = README.read_text()
    return text[text.index(START) : text.index(END) + len(END)]


if __name__ == "__main__":
    if "--write" in sys.argv:
        text = README.read_text()
        README.write_text(text.replace(current(), render()))
    else:
        print(render())
