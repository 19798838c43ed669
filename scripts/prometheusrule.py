"""Write deploy/k8s/components/monitoring/prometheusrule.yaml from deploy/prometheus/rules.yml.

The alerts are written once (rules.yml, which compose's Prometheus loads and promtool tests);
the Kubernetes PrometheusRule carries the same groups. `--write` rewrites the file; without it,
the script exits 1 when the file is out of date (tests/test_deploy_k8s_ops.py checks it too).
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
TARGET = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"
HEADER = """\
# Generated from deploy/prometheus/rules.yml by scripts/prometheusrule.py: edit that file, then run
#   python scripts/prometheusrule.py --write
# Your Prometheus' ruleSelector may want a label here (e.g. release: prometheus): add it in an
# overlay patch.
"""


def render() -> str:
    spec = yaml.safe_load(RULES.read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "gempool"},
        "spec": spec,
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=100)


def main() -> int:
    text = render()
    if "--write" in sys.argv:
        TARGET.write_text(text)
        return 0
    return 0 if TARGET.exists() and TARGET.read_text() == text else 1


if __name__ == "__main__":
    sys.exit(main())
