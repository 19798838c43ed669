"""The gateway's default shutdown grace fits the stop timeout its Kubernetes manifest allows: the
preStop sleep, the grace, uvicorn's backstop and the last log shipment all end before the SIGKILL."""

from pathlib import Path
from typing import Any

import yaml

from gempool.gateway.settings import GatewaySettings
from gempool.gateway.shutdown import BACKSTOP

ROOT = Path(__file__).resolve().parent.parent
LAST_LOGS = 5.0  # seconds the lifespan's end may take: one more WriteLogs (3 s at most), then the spool


def gateway_pod() -> dict[str, Any]:
    documents = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "gateway.yaml").read_text())
    [deployment] = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "gateway"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_default_grace_ends_before_kubernetes_kills_the_pod() -> None:
    pod = gateway_pod()
    [container] = [c for c in pod["containers"] if c["name"] == "gateway"]
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_stop = float(command[1]) if command[:1] == ["sleep"] else 0.0
    grace = GatewaySettings.model_fields["GATEWAY_SHUTDOWN_GRACE_SECONDS"].default
    assert pre_stop + grace + BACKSTOP + LAST_LOGS <= pod["terminationGracePeriodSeconds"]
    assert grace >= 30, "long streamed answers need time to finish"
