"""``make run`` (``python -m gempool.common.devstack``): reads ``.env``, says where the gateway is and
where the admin token came from, and one Ctrl-C stops all four services, leaving no process behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gempool.common.devstack import free_port

ADMIN = "devstack-admin-token-1"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(text: str, path: Path, proc: "subprocess.Popen[bytes]", timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while text not in (out := path.read_text()):
        assert proc.poll() is None, f"devstack exited:\n{out}"
        assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{out}"
        time.sleep(0.2)
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("ctrl_c", ["terminal", "devstack-only"])
def test_make_run_reads_dotenv_says_where_and_one_ctrl_c_stops_everything(
    tmp_path: Path, ctrl_c: str
) -> None:
    port = free_port()
    dotenv = {
        "PORT": port,
        "KEYPOOL_PORT": free_port(),
        "CONFIG_PORT": free_port(),
        "IMAGEHOST_PORT": free_port(),
        "KEYPOOL_METRICS_PORT": -1,
        "CONFIG_METRICS_PORT": -1,
        "IMAGEHOST_METRICS_PORT": -1,
        "AUTH_TOKEN": ADMIN,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    env = {k: v for k, v in os.environ.items() if k not in dotenv and k not in ("DATABASE_URL", "REDIS_URL")}
    log = tmp_path / "out.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gempool.common.devstack"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        printed = wait_for("Ctrl-C stops it.", log, proc)
        assert f"gempool is up: http://127.0.0.1:{port}" in printed
        assert "admin token: AUTH_TOKEN from the environment / .env" in printed
        session = httpx.get(
            f"http://127.0.0.1:{port}/api/admin/session", headers={"authorization": f"Bearer {ADMIN}"}
        )
        assert session.status_code == 200, session.text  # the .env's token is the admin token
        services = children_of(proc.pid)
        assert len(services) == 4
        if ctrl_c == "terminal":
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches every process of the foreground group
        else:
            proc.send_signal(signal.SIGINT)  # only devstack gets it: it must stop the others
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in services) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in services if alive(pid)]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever was left behind goes now
    assert not left, log.read_text()
