# ruff: noqa: E501  (the panel table reads best one query a line)
"""Write deploy/grafana/dashboards/gempool-overview.json (the dashboard compose's Grafana loads).

Panels are listed here as (title, unit, description, [(expr, legend)]) per row; `{SEL` in an expr
becomes the job/namespace filter of the dashboard's variables. `--write` rewrites the file;
without it the script exits 1 when the file is out of date (tests/test_dashboard.py checks it).
"""

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "deploy" / "grafana" / "dashboards" / "gempool-overview.json"
SEL = '{job=~"$job",namespace=~"$namespace"'
RATE = "[$__rate_interval]"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

Panel = tuple[str, str, str, list[tuple[str, str]]]

ROWS: list[tuple[str, list[Panel]]] = [
    ("Traffic", [
        ("Requests by route and status", "reqps", "Client requests the gateway answered, per second.",
         [(f"sum by (route, status) (rate(gempool_gateway_requests_total{{SEL}}{RATE}))", "{{route}} {{status}}")]),
        ("Time to first byte", "s", "p50 and p99 of the time to the answer's first byte.",
         [(f"histogram_quantile(0.5, sum by (le) (rate(gempool_gateway_request_seconds_bucket{{SEL}}{RATE})))", "p50"),
          (f"histogram_quantile(0.99, sum by (le) (rate(gempool_gateway_request_seconds_bucket{{SEL}}{RATE})))", "p99")]),
        ("Refused before the pool", "reqps", "503 while starting (no settings yet) and 401 for missing, wrong or disabled tokens.",
         [(f"sum by (reason) (rate(gempool_gateway_refused_requests_total{{SEL}}{RATE}))", "{{reason}}")]),
    ]),
    ("Models and teams", [
        ("Requests by model", "reqps", "Requests by model (models not yet seen answering 200 are 'other').",
         [(f"sum by (model) (rate(gempool_gateway_model_requests_total{{SEL}}{RATE}))", "{{model}}")]),
        ("Errors by model", "reqps", "Requests by model that did not end 2xx/3xx, by kind.",
         [(f'sum by (model, result) (rate(gempool_gateway_model_requests_total{{SEL,result!="ok"}}{RATE}))', "{{model}} {{result}}")]),
        ("Requests by team", "reqps", "Requests by token name; ALLOWED_TOKENS entries share 'allowed_tokens'.",
         [(f"sum by (team) (rate(gempool_gateway_team_requests_total{{SEL}}{RATE}))", "{{team}}")]),
        ("Errors by team", "reqps", "Requests by team that did not end 2xx/3xx, by kind.",
         [(f'sum by (team, result) (rate(gempool_gateway_team_requests_total{{SEL,result!="ok"}}{RATE}))', "{{team}} {{result}}")]),
        ("Tokens by model", "short", "Prompt (in) and answer (out) tokens per second, from the answers' usage.",
         [(f"sum by (model, direction) (rate(gempool_gateway_model_tokens_total{{SEL}}{RATE}))", "{{model}} {{direction}}")]),
        ("Tokens by team", "short", "Prompt (in) and answer (out) tokens per second, by team.",
         [(f"sum by (team, direction) (rate(gempool_gateway_team_tokens_total{{SEL}}{RATE}))", "{{team}} {{direction}}")]),
    ]),
    ("Upstream and retries", [
        ("Upstream attempts by outcome", "reqps", "Every attempt on the upstream, by what the keypool made of it.",
         [(f"sum by (outcome) (rate(gempool_gateway_upstream_attempts_total{{SEL}}{RATE}))", "{{outcome}}")]),
        ("Extra attempts per request", "short", "Mean and p99 of the retries a request needed.",
         [(f"sum(rate(gempool_gateway_retries_per_request_sum{{SEL}}{RATE})) / sum(rate(gempool_gateway_retries_per_request_count{{SEL}}{RATE}))", "mean"),
          (f"histogram_quantile(0.99, sum by (le) (rate(gempool_gateway_retries_per_request_bucket{{SEL}}{RATE})))", "p99")]),
    ]),
    ("Keys", [
        ("Keys by state", "short", "Keys active, cooling, retired and disabled (every keypool replica sees the same).",
         [("max by (state) (gempool_keypool_keys{SEL})", "{{state}}")]),
        ("Leases by pool and result", "reqps", "Lease answers: ok, every key cooling, pool empty.",
         [(f"sum by (pool, result) (rate(gempool_keypool_leases_total{{SEL}}{RATE}))", "{{pool}} {{result}}")]),
        ("Cooldowns by cause", "short", "Cooldowns started.",
         [(f"sum by (reason) (increase(gempool_keypool_cooldowns_total{{SEL}}{RATE}))", "{{reason}}")]),
        ("Retirements and restorations", "short", "Keys retired (by cause) and restored.",
         [(f"sum by (reason) (increase(gempool_keypool_retirements_total{{SEL}}{RATE}))", "retired {{reason}}"),
          (f"sum(increase(gempool_keypool_restorations_total{{SEL}}{RATE}))", "restored")]),
        ("Reports by verdict", "reqps", "Outcomes the gateway reported, by verdict and cause.",
         [(f"sum by (verdict, kind) (rate(gempool_keypool_reports_total{{SEL}}{RATE}))", "{{verdict}} {{kind}}")]),
        ("Keypool RPCs", "reqps", "The keypool's gRPC calls by method and code.",
         [(f"sum by (method, code) (rate(gempool_keypool_grpc_requests_total{{SEL}}{RATE}))", "{{method}} {{code}}")]),
    ]),
    ("Log shipping", [
        ("Logs shipped and dropped", "short", "Log records stored by the config service, and any dropped unshipped.",
         [(f"sum by (kind) (rate(gempool_gateway_logs_shipped_total{{SEL}}{RATE}))", "shipped {{kind}}"),
          (f"sum by (kind) (rate(gempool_gateway_logs_dropped_total{{SEL}}{RATE}))", "dropped {{kind}}"),
          (f"sum by (kind) (rate(gempool_gateway_logs_spool_dropped_total{{SEL}}{RATE}))", "spool dropped {{kind}}")]),
        ("Waiting logs", "short", "Records buffered in memory, and failed WriteLogs calls.",
         [("sum(gempool_gateway_logs_buffered{SEL})", "buffered"),
          (f"sum(increase(gempool_gateway_log_ship_failures_total{{SEL}}{RATE}))", "ship failures")]),
        ("Spool on disk", "bytes", "Bytes of log batches spooled while the config service was away.",
         [("max(gempool_gateway_logs_spool_bytes{SEL})", "spool"),
          (f"sum by (kind) (rate(gempool_gateway_logs_spooled_total{{SEL}}{RATE}))", "spooled {{kind}}/s")]),
    ]),
    ("Config service", [
        ("Config RPCs", "reqps", "The config service's gRPC calls by method and code.",
         [(f"sum by (method, code) (rate(gempool_config_grpc_requests_total{{SEL}}{RATE}))", "{{method}} {{code}}")]),
        ("Config RPC time (p99)", "s", "p99 handling time by method.",
         [(f"histogram_quantile(0.99, sum by (le, method) (rate(gempool_config_grpc_request_seconds_bucket{{SEL}}{RATE})))", "{{method}}")]),
        ("Logs stored, watchers, revisions", "short", "Log rows stored, open Watch streams, revisions published.",
         [(f"sum by (kind) (rate(gempool_config_logs_stored_total{{SEL}}{RATE}))", "stored {{kind}}/s"),
          ("sum(gempool_config_watchers{SEL})", "watchers"),
          ("max(gempool_config_settings_revision{SEL})", "settings revision"),
          ("max(gempool_config_keys_revision{SEL})", "keys revision")]),
    ]),
    ("Image host", [
        ("Uploads by provider and result", "short", "Images uploaded, refused as invalid, or failed at the provider.",
         [(f"sum by (provider, result) (increase(gempool_imagehost_uploads_total{{SEL}}{RATE}))", "{{provider}} {{result}}")]),
        ("Fallbacks and retries", "short", "Uploads kept locally after the provider failed, and retried ones.",
         [(f"sum by (provider) (increase(gempool_imagehost_fallbacks_total{{SEL}}{RATE}))", "fallback {{provider}}"),
          (f"sum by (provider) (increase(gempool_imagehost_upload_retries_total{{SEL}}{RATE}))", "retry {{provider}}")]),
        ("Bytes stored", "bytes", "Bytes of images stored, by provider.",
         [(f"sum by (provider) (increase(gempool_imagehost_stored_bytes_total{{SEL}}{RATE}))", "{{provider}}")]),
        ("Image host RPCs", "reqps", "The image host's gRPC calls by method and code.",
         [(f"sum by (method, code) (rate(gempool_imagehost_grpc_requests_total{{SEL}}{RATE}))", "{{method}} {{code}}")]),
    ]),
    ("Processes", [
        ("CPU by service", "percentunit", "CPU time per second, all replicas (and gateway workers) of a service.",
         [(f"sum by (job) (rate(process_cpu_seconds_total{{SEL}}{RATE}))", "{{job}}")]),
        ("Memory by service", "bytes", "Resident memory, all replicas of a service.",
         [("sum by (job) (process_resident_memory_bytes{SEL})", "{{job}}")]),
        ("Builds running", "short", "Replicas per service and version (two versions: a rollout in progress).",
         [("count by (service, version) (gempool_build_info{SEL})", "{{service}} {{version}}")]),
    ]),
]  # fmt: skip


def panel(panel_id: int, spec: Panel, x: int, y: int) -> dict[str, Any]:
    title, unit, description, queries = spec
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": 8, "h": 8},
        "fieldConfig": {
            "defaults": {"unit": unit, "custom": {"fillOpacity": 10, "showPoints": "never"}},
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {
                "refId": chr(65 + n),
                "datasource": DATASOURCE,
                "expr": expr.replace("{SEL", SEL),
                "legendFormat": legend,
            }
            for n, (expr, legend) in enumerate(queries)
        ],
    }


def variable(name: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": f"label_values(gempool_build_info, {name})", "refId": name},
        "definition": f"label_values(gempool_build_info, {name})",
        "includeAll": True,
        "multi": True,
        "allValue": ".*",  # also matches series without the label (compose has no namespace)
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row_title, specs in ROWS:
        panels.append({"id": len(panels) + 1, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})  # fmt: skip
        y += 1
        for n, spec in enumerate(specs):
            panels.append(panel(len(panels) + 1, spec, (n % 3) * 8, y + (n // 3) * 8))
        y += ((len(specs) + 2) // 3) * 8
    source = {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
              "current": {"text": "Prometheus", "value": "prometheus"}}  # fmt: skip
    return {
        "uid": "gempool-overview",
        "title": "gempool overview",
        "tags": ["gempool"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 2,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [source, variable("job", "Job"), variable("namespace", "Namespace")]},
        "annotations": {"list": []},
        "panels": panels,
    }


def main() -> int:
    text = json.dumps(dashboard(), indent=2) + "\n"
    if "--write" in sys.argv:
        TARGET.write_text(text)
        return 0
    return 0 if TARGET.read_text() == text else 1


if __name__ == "__main__":
    sys.exit(main())
