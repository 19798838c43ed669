"""deploy/prometheus/rules.yml: valid, each alert tested by promtool, only exported series used.

promtool comes from Debian's prometheus package, which `make setup` installs when missing: these
tests fail without it, they do not skip.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .exported import exported, problems

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: `make setup` installs Debian's prometheus package"
    return subprocess.run([binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", "rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    done = promtool("test", "rules", "rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load((PROMETHEUS / "rules.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    alerts = {rule["alert"] for rule in rules()}
    assert alerts - fired == set(), "alerts never seen firing"
    # An instance alert has no quiet case of its own: its series are the ones its siblings test.
    assert alerts - quiet <= {"GempoolServiceInstanceDown"}, "alerts never seen quiet"


def test_the_required_alerts_exist() -> None:
    alerts = {rule["alert"] for rule in rules()}
    assert alerts >= {
        "GempoolKeysAllCooling",
        "GempoolUpstreamErrorRate",
        "GempoolKeysRetiredInBulk",
        "GempoolKeypoolDown",
        "GempoolConfigDown",
        "GempoolLogsNotReachingDatabase",
        "GempoolLogSpoolGrowing",
        "GempoolPoolNearlyExhausted",
    }
    for rule in rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_alerts_use_only_series_the_services_export(rule: dict[str, Any], tmp_path: Path) -> None:
    assert problems(rule["expr"], exported(tmp_path)) == []


def test_compose_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    for path in config["rule_files"]:
        assert f"./deploy/prometheus/{Path(path).name}:{path}:ro" in mounts
