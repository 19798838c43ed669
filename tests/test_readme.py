"""README.md must keep telling the truth: its settings tables and its commands come from the code."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import settings_doc  # noqa: E402


def test_settings_tables_match_the_code() -> None:
    assert settings_doc.current() == settings_doc.render(), (
        "run `uv run python scripts/settings_doc.py --write`"
    )


def test_every_setting_has_a_description() -> None:
    missing = [
        line
        for line in settings_doc.render().splitlines()
        if line.startswith("| `") and line.endswith("|  |")
    ]
    assert not missing, f"settings without a description: {missing}"


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), re.M))
    for verb in re.findall(r"`make ([a-z]+)`", readme):
        assert verb in targets, f"README mentions `make {verb}`, the Makefile has no such target"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call README's test command"


def test_env_example_names_are_settings() -> None:
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    known = settings_doc.render()
    unknown = [n for n in names if f"`{n}`" not in known]
    assert not unknown, f".env.example names unknown settings: {unknown}"


def test_ci_script_is_bash_clean() -> None:
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)
