"""deploy/k8s as an operator applies it: valid for real clusters, secrets, availability, traffic.

Every overlay (and the monitoring component) is rendered with `kubectl kustomize` and validated
strictly, offline, against the Kubernetes OpenAPI schemas of two versions with
`kubernetes-validate` (PyPI; it ships the schemas). The Prometheus Operator's kinds have no
schema there and are checked by hand below. NetworkPolicies are evaluated by a small model of
their semantics, so the allowed calls are the architecture's and nothing more.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import hcl2
import kubernetes_validate
import pytest
import yaml

from gempool.common.live import LiveSettings
from gempool.gateway.shutdown import BACKSTOP

from .test_deploy_k8s import APPS, K8S, ROOT, Rendered, kustomize, metrics_port, port, render, secrets_example

VERSIONS = ("1.29.0", "1.34.0")
OVERLAYS = ("base", "overlays/dev", "overlays/production")
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}  # monitoring.coreos.com: no schema shipped


@pytest.fixture(scope="module", params=OVERLAYS)
def k8s(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


@pytest.fixture(scope="module")
def production() -> Rendered:
    return render("overlays/production")


@pytest.fixture(scope="module")
def monitored() -> Rendered:
    return render("overlays/production", components=("monitoring",))


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly_against_the_kubernetes_schema(overlay: str, version: str) -> None:
    rendered = render(overlay, components=("monitoring",) if overlay == "overlays/production" else ())
    checked = 0
    for doc in rendered.docs:
        if doc["kind"] in OPERATOR_KINDS:
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay} {doc['kind']}/{doc['metadata']['name']} on {version}: {exc.message}")
        checked += 1
    assert checked >= 15, "the render lost objects"


def test_the_validator_refuses_an_unknown_field() -> None:
    """The strict mode is what catches a misspelt field; make sure it is on and works offline."""
    deployment = next(d for d in render("base").docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


# ---------------------------------------------------------------- images


def unquote(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def bake() -> tuple[dict[str, str], dict[str, dict[str, Any]], list[str]]:
    """docker-bake.hcl as (variables' defaults, targets, the default group's targets)."""
    parsed = unquote(hcl2.loads((ROOT / "docker-bake.hcl").read_text()))
    variables = {name: spec["default"] for block in parsed["variable"] for name, spec in block.items()}
    targets = {name: spec for block in parsed["target"] for name, spec in block.items()}
    groups = {name: spec for block in parsed["group"] for name, spec in block.items()}
    return variables, targets, groups["default"]["targets"]


def test_bake_builds_the_four_images_the_base_deploys() -> None:
    variables, targets, default = bake()
    assert sorted(default) == sorted(APPS)
    base = render("base")
    for svc in APPS:
        spec = targets[svc]
        for parent in spec.get("inherits", []):
            spec = targets[parent] | spec
        assert spec["context"] == "."
        assert (ROOT / spec["dockerfile"]) == ROOT / "services" / svc / "Dockerfile"
        (tag,) = spec["tags"]
        built = tag.replace("${REGISTRY}", variables["REGISTRY"]).replace("${TAG}", variables["TAG"])
        assert built == base.container(svc)["image"], "bake's default tag is what the base runs"
        with_registry = tag.replace("${REGISTRY}", "registry.example.com/").replace("${TAG}", "0.1.0")
        assert with_registry == render_production_image(svc)


def render_production_image(svc: str) -> str:
    return render("overlays/production").container(svc)["image"]  # type: ignore[no-any-return]


def test_makefile_images_target_runs_bake() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^images:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "docker buildx bake" in recipe[1]


# ---------------------------------------------------------------- the Secret


SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "AUTH_TOKEN", "INTERNAL_TOKEN"}


def secret_refs(rendered: Rendered, svc: str) -> dict[str, tuple[str, bool]]:
    """env name -> (Secret key, optional) for the container's secretKeyRefs."""
    out = {}
    for entry in rendered.container(svc).get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"].startswith("gempool-secrets"), ref
            out[entry["name"]] = (ref["key"], bool(ref.get("optional")))
    return out


def test_the_secret_example_lists_every_key_the_services_need() -> None:
    example = secrets_example()
    assert set(example) >= SECRET_KEYS
    base = render("base")
    for svc in APPS:
        for key, optional in secret_refs(base, svc).values():
            assert optional or key in example, f"{svc} needs {key}"


def test_production_generates_the_secret_from_the_users_file(production: Rendered) -> None:
    (secret,) = production.of_kind("Secret")
    assert secret["metadata"]["name"].startswith("gempool-secrets-"), "hashed name: pods roll on change"
    assert set(production.data("Secret", secret["metadata"]["name"]) or {}) == set(secrets_example())


def test_production_without_secrets_env_fails_and_names_the_file() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(K8S, Path(tmp) / "k8s")
        (Path(tmp) / "k8s/overlays/production/secrets.env").unlink(missing_ok=True)
        done = kustomize(Path(tmp) / "k8s/overlays/production")
    assert done.returncode != 0 and "secrets.env" in done.stderr


def test_the_real_secrets_env_is_ignored_by_git() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/k8s/overlays/production/secrets.env"], cwd=ROOT, timeout=30
    )
    assert done.returncode == 0


@pytest.mark.parametrize("svc", APPS)
def test_every_service_gets_the_internal_credential_from_the_secret(k8s: Rendered, svc: str) -> None:
    assert secret_refs(k8s, svc).get("INTERNAL_TOKEN") == ("INTERNAL_TOKEN", False)


def test_secrets_come_from_the_secret_never_a_configmap(k8s: Rendered) -> None:
    for svc in ("gateway", "keypool"):
        assert secret_refs(k8s, svc)["REDIS_URL"] == ("REDIS_URL", False), svc
    assert secret_refs(k8s, "config")["DATABASE_URL"] == ("DATABASE_URL", False)
    for configmap in k8s.of_kind("ConfigMap"):
        leaked = set(configmap.get("data", {})) & (SECRET_KEYS | {"API_KEYS", "ALLOWED_TOKENS"})
        assert not leaked, f"{configmap['metadata']['name']} holds {leaked}"


# ---------------------------------------------------------------- availability and shutdown


@pytest.mark.parametrize("svc", ["gateway", "keypool"])
def test_replicated_services_have_a_budget_an_autoscaler_and_spread(k8s: Rendered, svc: str) -> None:
    labels = k8s.workload(svc)["spec"]["template"]["metadata"]["labels"]
    budget = k8s.find("PodDisruptionBudget", svc)
    assert budget is not None and budget["spec"]["minAvailable"] >= 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = k8s.find("HorizontalPodAutoscaler", svc)
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert "cpu" in k8s.container(svc)["resources"]["requests"], "utilization needs a CPU request"
    spread = k8s.workload(svc)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_host = [c for c in spread if c["topologyKey"] == "kubernetes.io/hostname"]
    assert by_host and by_host[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert by_host[0]["labelSelector"]["matchLabels"].items() <= labels.items()


def test_gateway_shutdown_fits_the_grace_period(k8s: Rendered) -> None:
    """preStop + the gateway's own drain must end before Kubernetes' SIGKILL."""
    spec = k8s.workload("gateway")["spec"]["template"]["spec"]
    pre_stop = k8s.container("gateway")["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = float(k8s.env("gateway")["GATEWAY_SHUTDOWN_GRACE_SECONDS"])
    assert drain >= LiveSettings.model_fields["TIME_OUT"].default / 10, "streams need time to finish"
    assert float(pre_stop[1]) + drain + BACKSTOP + 5 <= spec["terminationGracePeriodSeconds"] == 60


# ---------------------------------------------------------------- Ingress


def test_the_ingress_streams_without_buffering_to_the_gateway(production: Rendered) -> None:
    (ingress,) = production.of_kind("Ingress")
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "proxy-buffering"] == "off"
    assert notes[prefix + "proxy-request-buffering"] == "off"
    longest = LiveSettings.model_fields["TIME_OUT"].default
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[prefix + name]) > longest, name
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = production.find("Service", backend["name"])
            assert service is not None and backend["name"] == "gateway"
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    trusted = production.env("gateway").get("FORWARDED_ALLOW_IPS", "")
    assert trusted and "*" not in trusted, "trust the Ingress controller's addresses, not everyone"


# ---------------------------------------------------------------- monitoring component


def test_service_monitor_scrapes_every_service_on_its_metrics_port(monitored: Rendered) -> None:
    (monitor,) = monitored.of_kind("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = {e["port"]: e.get("path", "/metrics") for e in monitor["spec"]["endpoints"]}
    assert set(scraped.values()) == {"/metrics"}
    for svc in APPS:
        service = monitored.find("Service", svc)
        assert service is not None and selector.items() <= service["metadata"]["labels"].items()
        named = {p["name"]: p for p in service["spec"]["ports"] if p["name"] in scraped}
        assert len(named) == 1, f"{svc}: one scraped port"
        (entry,) = named.values()
        ports = {p["name"]: p["containerPort"] for p in monitored.container(svc)["ports"]}
        assert ports[entry["targetPort"]] == metrics_port(svc)


def test_prometheus_rule_is_the_compose_rules_file(monitored: Rendered) -> None:
    (rule,) = monitored.of_kind("PrometheusRule")
    shipped = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    assert rule["spec"] == shipped, "run: python scripts/prometheusrule.py --write"


# ---------------------------------------------------------------- NetworkPolicies

INTERNET = {"__where__": "internet"}
PROMETHEUS = {"app.kubernetes.io/name": "prometheus", "__where__": "namespace monitoring"}
STRANGER = {"app.kubernetes.io/name": "stranger"}  # another pod of gempool's namespace


def ours(labels: dict[str, str]) -> bool:
    """A pod of gempool's namespace, which its NetworkPolicies govern."""
    return "__where__" not in labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return ours(labels) and selector.get("matchLabels", {}).items() <= labels.items()


def peer_matches(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    """One `from`/`to` entry. Pod addresses are private, so ipBlocks (private ranges excepted)
    match only the internet; a podSelector alone means this namespace's pods."""
    if "ipBlock" in peer:
        return labels is INTERNET
    if labels is INTERNET:
        return False
    if "namespaceSelector" not in peer and not ours(labels):
        return False
    wanted = peer.get("podSelector", {}).get("matchLabels", {})
    return wanted.items() <= labels.items()  # type: ignore[no-any-return]


def rule_allows(rule: dict[str, Any], key: str, labels: dict[str, str], port: int) -> bool:
    peers, ports = rule.get(key), rule.get("ports")
    port_ok = ports is None or any(p["port"] == port for p in ports)
    return port_ok and (peers is None or any(peer_matches(p, labels) for p in peers))


def allowed(policies: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str], port: int) -> bool:
    """Whether src may open a TCP connection to dst:port: both ends' policies must agree."""
    for pod, direction, other, key in ((src, "Egress", dst, "to"), (dst, "Ingress", src, "from")):
        applying = [
            p
            for p in policies
            if selects(p["spec"]["podSelector"], pod) and direction in p["spec"]["policyTypes"]
        ]
        rules = [rule for p in applying for rule in p["spec"].get(direction.lower(), [])]
        if applying and not any(rule_allows(rule, key, other, port) for rule in rules):
            return False
    return True


def app(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "gempool"}


NEEDED = [
    (INTERNET, "gateway", port("gateway")),
    ("gateway", "keypool", port("keypool")),
    ("gateway", "config", port("config")),
    ("gateway", "imagehost", port("imagehost")),
    ("gateway", "redis", 6379),
    ("gateway", INTERNET, 443),
    ("keypool", "config", port("config")),
    ("keypool", "redis", 6379),
    ("keypool", INTERNET, 443),
    ("imagehost", "config", port("config")),
    ("imagehost", INTERNET, 443),
    ("config", "postgres", 5432),
    (PROMETHEUS, "keypool", metrics_port("keypool")),
    (PROMETHEUS, "config", metrics_port("config")),
    (PROMETHEUS, "imagehost", metrics_port("imagehost")),
    (PROMETHEUS, "gateway", port("gateway")),
]
REFUSED = [
    (INTERNET, "keypool", port("keypool")),
    (INTERNET, "config", port("config")),
    (STRANGER, "config", port("config")),
    (STRANGER, "keypool", port("keypool")),
    (STRANGER, "redis", 6379),
    ("imagehost", "keypool", port("keypool")),
    ("keypool", "imagehost", port("imagehost")),
    ("gateway", "postgres", 5432),
    ("keypool", "postgres", 5432),
    ("config", INTERNET, 443),
    ("config", "keypool", port("keypool")),
    ("gateway", INTERNET, 80),
    (PROMETHEUS, "keypool", port("keypool")),
    (INTERNET, "postgres", 5432),
    ("postgres", INTERNET, 443),  # pods without a policy of their own: the default denies
    (STRANGER, INTERNET, 443),
]


def labels_of(who: Any) -> dict[str, str]:
    return app(who) if isinstance(who, str) else who


@pytest.fixture(scope="module")
def dev_policies() -> list[dict[str, Any]]:
    return render("overlays/dev").of_kind("NetworkPolicy")


@pytest.mark.parametrize(("src", "dst", "port_"), NEEDED, ids=str)
def test_network_policies_allow_what_the_architecture_needs(
    dev_policies: list[dict[str, Any]], src: Any, dst: Any, port_: int
) -> None:
    assert allowed(dev_policies, labels_of(src), labels_of(dst), port_)


@pytest.mark.parametrize(("src", "dst", "port_"), REFUSED, ids=str)
def test_network_policies_refuse_everything_else(
    dev_policies: list[dict[str, Any]], src: Any, dst: Any, port_: int
) -> None:
    assert not allowed(dev_policies, labels_of(src), labels_of(dst), port_)


def test_every_pod_may_resolve_names(dev_policies: list[dict[str, Any]]) -> None:
    dns = [p for p in dev_policies if p["spec"]["podSelector"] == {} and "egress" in p["spec"]]
    assert any(
        {(q.get("protocol"), q["port"]) for q in rule["ports"]} >= {("UDP", 53), ("TCP", 53)}
        for p in dns
        for rule in p["spec"]["egress"]
    )
