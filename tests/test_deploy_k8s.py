"""deploy/k8s renders with `kubectl kustomize` and agrees with the services it deploys.

Checked offline on the rendered objects: ports, probes, Services, env names, references,
security settings. Needs kubectl (its built-in kustomize); without it the tests fail, they do
not skip.
"""

import base64
import re
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from gempool.common.live import KEY_SETTINGS, LiveSettings
from gempool.config.settings import ConfigServiceSettings
from gempool.gateway.settings import GatewaySettings
from gempool.imagehost.settings import ImageHostSettings
from gempool.keypool.settings import KeyPoolSettings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"

# service -> (settings class, port setting, metrics port setting); gateway serves /metrics on PORT.
APPS: dict[str, tuple[type[BaseSettings], str, str]] = {
    "gateway": (GatewaySettings, "PORT", "PORT"),
    "keypool": (KeyPoolSettings, "KEYPOOL_PORT", "KEYPOOL_METRICS_PORT"),
    "config": (ConfigServiceSettings, "CONFIG_PORT", "CONFIG_METRICS_PORT"),
    "imagehost": (ImageHostSettings, "IMAGEHOST_PORT", "IMAGEHOST_METRICS_PORT"),
}
# Who calls whom, by the address setting (docs/CONTRACTS.md).
ADDRESSES = {"KEYPOOL_ADDR": "keypool", "CONFIG_ADDR": "config", "IMAGEHOST_ADDR": "imagehost"}
REPLICAS = {"gateway": 2, "keypool": 2, "config": 1, "imagehost": 1}
# overlay -> the image every service runs, {} standing for the service
IMAGES = {
    "base": "gempool/{}:0.1.0",
    "overlays/dev": "gempool/{}:dev",
    "overlays/production": "registry.example.com/gempool/{}:0.1.0",
}
WORKLOADS = ("Deployment", "StatefulSet")


def default(svc: str, field: str) -> Any:
    return APPS[svc][0].model_fields[field].default


def port(svc: str) -> int:
    return int(default(svc, APPS[svc][1]))


def metrics_port(svc: str) -> int:
    return int(default(svc, APPS[svc][2]))


def env_names(svc: str) -> set[str]:
    cls = APPS[svc][0]
    assert not cls.model_config.get("env_prefix")
    names = {name.upper() for name in cls.model_fields}
    if svc == "config":
        names |= set(LiveSettings.model_fields) | set(KEY_SETTINGS)
    return names


def workdir(svc: str) -> PurePosixPath:
    found = re.findall(r"^WORKDIR\s+(\S+)", (ROOT / "services" / svc / "Dockerfile").read_text(), re.M)
    return PurePosixPath(found[-1])


class Rendered:
    def __init__(self, overlay: str, docs: list[dict[str, Any]]) -> None:
        self.overlay = overlay
        self.docs = docs

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        found = [d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name]
        assert len(found) <= 1
        return found[0] if found else None

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in kinds]

    def workload(self, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(*WORKLOADS) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: no workload {name}"
        return found[0]

    def container(self, svc: str) -> dict[str, Any]:
        (only,) = self.workload(svc)["spec"]["template"]["spec"]["containers"]
        return only  # type: ignore[no-any-return]

    def data(self, kind: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's or Secret's values (decoded), or None when it is not in the render."""
        doc = self.find(kind, name)
        if doc is None:
            return None
        values = dict(doc.get("data") or {})
        if kind == "Secret":
            values = {k: base64.b64decode(v).decode() for k, v in values.items()}
        return values | dict(doc.get("stringData") or {})

    def env(self, svc: str) -> dict[str, str]:
        """Everything the container's environment gets (external Secrets: their documented example)."""
        container = self.container(svc)
        out: dict[str, str] = {}
        for source in container.get("envFrom", []):
            for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if ref in source:
                    name = source[ref]["name"]
                    values = self.data(kind, name)
                    if values is None:
                        values = external_example(kind, name)
                    out |= values
        for entry in container.get("env", []):
            out[entry["name"]] = entry["value"] if "value" in entry else self.ref(entry["valueFrom"])
        return out

    def ref(self, source: dict[str, Any]) -> str:
        """The value a secretKeyRef/configMapKeyRef names (external Secrets: their example)."""
        for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if ref in source:
                name, key = source[ref]["name"], source[ref]["key"]
                values = self.data(kind, name)
                if values is None:
                    values = external_example(kind, name)
                assert key in values or source[ref].get("optional"), f"{kind} {name} has no {key}"
                return values.get(key, "")
        return "<ref>"


def external_example(kind: str, name: str) -> dict[str, str]:
    """An object the base expects the overlay to provide, as documented in the base."""
    assert (kind, name) == ("Secret", "gempool-secrets"), f"{kind} {name} is referenced but not rendered"
    return secrets_example()


SECRETS_EXAMPLE = K8S / "overlays" / "production" / "secrets.env.example"


def secrets_example() -> dict[str, str]:
    """gempool-secrets as documented: the env file a user copies to secrets.env and fills in."""
    lines = [line for line in SECRETS_EXAMPLE.read_text().splitlines() if line and line[0] != "#"]
    return dict(line.split("=", 1) for line in lines)


def kustomize(path: Path) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to render deploy/k8s (kubectl kustomize)"
    return subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60)


def render(overlay: str, components: tuple[str, ...] = ()) -> Rendered:
    """Renders a copy of deploy/k8s where secrets.env is the example, as a user's copy step makes it.

    ``components`` are added through an overlay of the overlay, as a user would enable them.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(K8S, tree)
        shutil.copy(SECRETS_EXAMPLE, tree / "overlays" / "production" / "secrets.env")
        target = tree / overlay
        if components:
            target = tree / "with-components"
            target.mkdir()
            listed = "".join(f"  - ../components/{c}\n" for c in components)
            (target / "kustomization.yaml").write_text(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                f"resources:\n  - ../{overlay}\ncomponents:\n{listed}"
            )
        done = kustomize(target)
    assert done.returncode == 0, done.stderr
    return Rendered(overlay, [d for d in yaml.safe_load_all(done.stdout) if d])


@pytest.fixture(scope="module", params=list(IMAGES))
def k8s(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render("overlays/dev")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def container_ports(workload: dict[str, Any]) -> dict[str, int]:
    return {
        p["name"]: p["containerPort"] for c in pod_spec(workload)["containers"] for p in c.get("ports", [])
    }


def resolve_port(workload: dict[str, Any], target: int | str) -> int:
    ports = container_ports(workload)
    if isinstance(target, str):
        assert target in ports, f"{workload['metadata']['name']}: no container port named {target}"
        return ports[target]
    assert target in ports.values(), f"{workload['metadata']['name']}: no container port {target}"
    return target


# ---------------------------------------------------------------- workloads


@pytest.mark.parametrize("svc", APPS)
def test_each_service_is_deployed_with_its_image(k8s: Rendered, svc: str) -> None:
    deployment = k8s.find("Deployment", svc)
    assert deployment is not None
    hpa = k8s.find("HorizontalPodAutoscaler", svc)
    if hpa is None:
        assert deployment["spec"]["replicas"] == REPLICAS[svc]
    else:  # a replicas field would undo the autoscaler's choice on every apply
        assert "replicas" not in deployment["spec"]
        assert hpa["spec"]["minReplicas"] == REPLICAS[svc]
    assert k8s.container(svc)["image"] == IMAGES[k8s.overlay].format(svc)
    assert "command" not in k8s.container(svc) and "args" not in k8s.container(svc), "the image's CMD runs"


def test_every_image_is_pinned(k8s: Rendered) -> None:
    for workload in k8s.of_kind(*WORKLOADS):
        for container in pod_spec(workload)["containers"]:
            image = container.get("image", "")
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), image


@pytest.mark.parametrize("svc", APPS)
def test_container_ports_are_the_settings_defaults(k8s: Rendered, svc: str) -> None:
    ports = container_ports(k8s.workload(svc))
    expected = {"http": port(svc)} if svc == "gateway" else {"grpc": port(svc), "metrics": metrics_port(svc)}
    assert ports == expected


@pytest.mark.parametrize("svc", APPS)
def test_probes_use_grpc_health_or_healthz(k8s: Rendered, svc: str) -> None:
    container = k8s.container(svc)
    assert "readinessProbe" in container and "livenessProbe" in container
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        if probe is None:
            continue
        if svc == "gateway":
            # Ready only once settings arrived (/readyz); alive while the process answers at all.
            path = "/readyz" if kind == "readinessProbe" else "/healthz"
            assert probe["httpGet"]["path"] == path, kind
            assert resolve_port(k8s.workload(svc), probe["httpGet"]["port"]) == port(svc)
        else:
            assert probe["grpc"]["port"] == port(svc), f"{svc} {kind}"


def test_every_workload_has_probes_and_resources(k8s: Rendered) -> None:
    for workload in k8s.of_kind(*WORKLOADS):
        for container in pod_spec(workload)["containers"]:
            name = container["name"]
            assert "readinessProbe" in container and "livenessProbe" in container, name
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), f"{name}: {part}"


def test_pods_run_as_non_root_with_a_read_only_root(k8s: Rendered) -> None:
    for workload in k8s.of_kind(*WORKLOADS):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_service_links_are_off(k8s: Rendered) -> None:
    """Kubernetes would set <SERVICE>_PORT=tcp://... in every pod: KEYPOOL_PORT is a setting."""
    services = {d["metadata"]["name"] for d in k8s.of_kind("Service")}
    clashes = {f"{s.upper()}_PORT" for s in services} & set().union(*(env_names(a) for a in APPS))
    assert clashes, "no clash left; this test can go"
    for workload in k8s.of_kind(*WORKLOADS):
        assert pod_spec(workload).get("enableServiceLinks") is False, workload["metadata"]["name"]


@pytest.mark.parametrize("svc", APPS)
def test_prometheus_annotations_name_the_metrics_port(k8s: Rendered, svc: str) -> None:
    workload = k8s.workload(svc)
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == metrics_port(svc)
    assert metrics_port(svc) in container_ports(workload).values()


# ---------------------------------------------------------------- Services and references


def test_services_route_to_container_ports(k8s: Rendered) -> None:
    for service in k8s.of_kind("Service"):
        selector = service["spec"]["selector"]
        chosen = [
            w for w in k8s.of_kind(*WORKLOADS)
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(chosen) == 1, f"Service {service['metadata']['name']} selects {len(chosen)} workloads"
        for entry in service["spec"]["ports"]:
            resolve_port(chosen[0], entry.get("targetPort", entry["port"]))


def test_references_resolve(k8s: Rendered) -> None:
    kinds = {"configMapRef": "ConfigMap", "secretRef": "Secret", "configMapKeyRef": "ConfigMap",
             "secretKeyRef": "Secret", "persistentVolumeClaim": "PersistentVolumeClaim"}  # fmt: skip
    missing = set()
    for workload in k8s.of_kind(*WORKLOADS):
        for key, name in references(pod_spec(workload)):
            if k8s.find(kinds[key], name) is None:
                missing.add((kinds[key], name))
    allowed = {("Secret", "gempool-secrets")} if k8s.overlay == "base" else set()
    assert missing <= allowed, missing


def references(node: Any) -> list[tuple[str, str]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"configMapRef", "secretRef", "configMapKeyRef", "secretKeyRef"}:
                found.append((key, value["name"]))
            elif key == "persistentVolumeClaim":
                found.append((key, value["claimName"]))
            else:
                found += references(value)
    elif isinstance(node, list):
        for item in node:
            found += references(item)
    return found


@pytest.mark.parametrize("svc", APPS)
def test_env_names_are_real_settings(k8s: Rendered, svc: str) -> None:
    unknown = set(k8s.env(svc)) - env_names(svc)
    assert not unknown, f"{svc} gets names its settings do not read: {sorted(unknown)}"


@pytest.mark.parametrize("svc", APPS)
def test_addresses_name_a_service_and_its_port(k8s: Rendered, svc: str) -> None:
    env = k8s.env(svc)
    for name, target in ADDRESSES.items():
        if name not in env_names(svc):
            continue
        assert name in env, f"{svc}: {name} unset (the default is 127.0.0.1)"
        host, _, number = env[name].rpartition(":")
        service = k8s.find("Service", host)
        assert service is not None and host == target, f"{svc}: {name}={env[name]}"
        (entry,) = [p for p in service["spec"]["ports"] if p["port"] == int(number)]
        assert resolve_port(k8s.workload(target), entry["targetPort"]) == port(target)


def test_dev_overlay_wires_postgres_and_redis(dev: Rendered) -> None:
    url = urlsplit(dev.env("config")["DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg"
    pg = pod_spec(dev.workload("postgres"))["containers"][0]
    (ref,) = [s["secretRef"]["name"] for s in pg["envFrom"]]
    credentials = dev.data("Secret", ref)
    assert credentials is not None
    assert (url.username, url.password, url.path.lstrip("/")) == (
        credentials["POSTGRES_USER"], credentials["POSTGRES_PASSWORD"], credentials["POSTGRES_DB"],
    )  # fmt: skip
    for url_text, name in (
        (dev.env("config")["DATABASE_URL"], "postgres"),
        (dev.env("keypool")["REDIS_URL"], "redis"),
        (dev.env("gateway")["REDIS_URL"], "redis"),
    ):
        parsed = urlsplit(url_text)
        service = dev.find("Service", parsed.hostname or "")
        assert service is not None and parsed.hostname == name, url_text
        (entry,) = [p for p in service["spec"]["ports"] if p["port"] == parsed.port]
        resolve_port(dev.workload(name), entry["targetPort"])


def test_base_has_no_database_or_cache(k8s: Rendered) -> None:
    names = {w["metadata"]["name"] for w in k8s.of_kind(*WORKLOADS)}
    assert names == set(APPS) | ({"postgres", "redis"} if k8s.overlay == "overlays/dev" else set())


def test_dev_overlay_uses_one_namespace(dev: Rendered) -> None:
    assert dev.find("Namespace", "gempool-dev") is not None
    for doc in dev.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "gempool-dev", doc["metadata"]["name"]


# ---------------------------------------------------------------- writable paths


def mounts(k8s: Rendered, svc: str) -> dict[str, dict[str, Any]]:
    """mountPath -> the volume behind it."""
    volumes = {v["name"]: v for v in pod_spec(k8s.workload(svc)).get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in k8s.container(svc).get("volumeMounts", [])}


def test_where_services_write_is_mounted(k8s: Rendered) -> None:
    """The root filesystem is read-only: image files and the admin token need volumes."""
    images = k8s.env("imagehost").get("IMAGEHOST_DIR", str(default("imagehost", "IMAGEHOST_DIR")))
    assert "persistentVolumeClaim" in mounts(k8s, "imagehost")[str(workdir("imagehost") / images)]
    token_dir = (workdir("config") / str(default("config", "ADMIN_TOKEN_FILE"))).parent
    assert str(token_dir) in mounts(k8s, "config")
    spool = workdir("gateway") / k8s.env("gateway").get(
        "LOG_SPOOL_DIR", str(default("gateway", "LOG_SPOOL_DIR"))
    )
    assert "emptyDir" in mounts(k8s, "gateway")[str(spool)]
    for svc in APPS:
        assert "/tmp" in mounts(k8s, svc), svc
