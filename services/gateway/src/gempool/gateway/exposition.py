"""What /metrics answers: this process' registry, or every worker's when GATEWAY_WORKERS > 1.

With several uvicorn workers each request, a scrape too, reaches one of them; a per-process
registry would make counters jump between the workers' values. So the parent gives the workers a
fresh directory (PROMETHEUS_MULTIPROC_DIR) before they start, prometheus_client keeps every
worker's values in files there, and a scrape adds them up. process_* are summed over the live
workers the same way.
"""

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gempool.common.metrics import BuildInfo, register_process_metrics

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_workers_dir() -> Path:
    """In the parent, before the workers start: an empty directory for this run's values (values
    of an earlier run would be added to this one's)."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):  # prometheus_client's files only
            old.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="gempool-gateway-metrics-"))
    os.environ[ENV] = str(path)
    return path


def exposition(registry: CollectorRegistry) -> Callable[[], bytes]:
    """The /metrics body maker for this process."""
    directory = os.environ.get(ENV)
    if not directory:
        register_process_metrics(registry, "gateway")
        return lambda: generate_latest(registry)
    every_worker = CollectorRegistry()
    multiprocess.MultiProcessCollector(every_worker, path=directory)  # type: ignore[no-untyped-call]
    every_worker.register(BuildInfo("gateway"))
    every_worker.register(WorkerProcesses(Path(directory)))
    return lambda: generate_latest(every_worker)


def worker_exited() -> None:
    """A stopping worker's live gauges (livesum, max) leave the sums."""
    directory = os.environ.get(ENV)
    if directory:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def add(a: float, b: float) -> float:
    return a + b


def constant(pid: int) -> Callable[[], int]:
    return lambda: pid


# How process_* samples of several workers combine; the rest are added.
COMBINE: dict[str, Callable[[float, float], float]] = {
    "process_start_time_seconds": min,
    "process_max_fds": max,
}


class WorkerProcesses(Collector):
    """process_* of the gateway as a whole: the sum over the workers that wrote values."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pids(self) -> set[int]:
        found = {path.stem.rsplit("_", 1)[-1] for path in self.directory.glob("*.db")}
        return {int(pid) for pid in found if pid.isdigit() and alive(int(pid))}

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        values: dict[str, float] = {}
        for pid in sorted(self.pids()):
            for family in ProcessCollector(pid=constant(pid), registry=None).collect():
                families.setdefault(family.name, family)
                for sample in family.samples:
                    combine = COMBINE.get(sample.name, add)
                    old = values.get(sample.name)
                    values[sample.name] = sample.value if old is None else combine(old, sample.value)
        for name, family in families.items():
            out = Metric(name, family.documentation, family.type)
            for sample in family.samples:
                out.add_sample(sample.name, {}, values[sample.name])
            yield out
