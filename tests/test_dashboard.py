"""The Grafana dashboard queries only what the services export, filters by the dashboard's
variables, and covers what an operator watches."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .exported import exported, problems, references

ROOT = Path(__file__).resolve().parent.parent
BOARD = ROOT / "deploy" / "grafana" / "dashboards" / "gempool-overview.json"


def board() -> dict[str, Any]:
    return json.loads(BOARD.read_text())  # type: ignore[no-any-return]


def panels() -> list[dict[str, Any]]:
    return [p for p in board()["panels"] if p["type"] != "row"]


def queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels() for t in p["targets"]]


def test_variables_choose_datasource_job_and_namespace() -> None:
    variables = {v["name"]: v for v in board()["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    for name in ("job", "namespace"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*", name
        assert f"label_values(gempool_build_info, {name})" == variables[name]["definition"]


def test_every_panel_uses_the_datasource_variable() -> None:
    for panel in panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize(("title", "expr"), queries(), ids=[f"{t}:{n}" for n, (t, _) in enumerate(queries())])
def test_queries_use_only_series_and_labels_the_code_exports(title: str, expr: str, tmp_path: Path) -> None:
    assert problems(expr, exported(tmp_path)) == [], title


def test_every_selector_filters_by_job_and_namespace() -> None:
    for title, expr in queries():
        selectors = re.findall(r"\b(?:gempool_|process_)[a-z0-9_]+(\{[^}]*\})?", expr)
        assert selectors, title
        for selector in selectors:
            assert 'job=~"$job"' in selector and 'namespace=~"$namespace"' in selector, (title, expr)


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = {name for _, expr in queries() for name in references(expr)[0]}
    assert used >= {
        "gempool_gateway_model_tokens_total",
        "gempool_gateway_team_tokens_total",
        "gempool_gateway_model_requests_total",
        "gempool_gateway_team_requests_total",
        "gempool_gateway_refused_requests_total",
        "gempool_gateway_retries_per_request_bucket",
        "gempool_gateway_upstream_attempts_total",
        "gempool_keypool_retirements_total",
        "gempool_keypool_keys",
        "gempool_gateway_logs_shipped_total",
        "gempool_gateway_logs_spool_bytes",
        "gempool_config_grpc_requests_total",
        "gempool_imagehost_uploads_total",
        "gempool_imagehost_grpc_requests_total",
        "process_cpu_seconds_total",
        "gempool_build_info",
    }
    quantiles = {q for _, e in queries() for q in re.findall(r"histogram_quantile\(([\d.]+)", e)}
    assert quantiles == {"0.5", "0.99"}


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in board()["panels"]:
        pos = panel["gridPos"]
        cells = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, panel["title"]
        assert pos["x"] + pos["w"] <= 24
        taken |= cells


def test_the_file_is_what_the_script_writes() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "dashboard.py")], timeout=60)
    assert done.returncode == 0, "run: python scripts/dashboard.py --write"
