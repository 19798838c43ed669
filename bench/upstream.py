"""A fixed-answer Gemini upstream served by nginx: much faster than the gateway it measures."""

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ANSWER = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Hi! How can I help you today?"}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "bench",
}


def _stream_body() -> str:
    words = ["Hi!", " How can I", " help you today?"]
    events = []
    for i, word in enumerate(words):
        event: dict[str, Any] = {
            "candidates": [{"content": {"parts": [{"text": word}], "role": "model"}, "index": 0}],
            "modelVersion": "gemini-2.5-flash",
        }
        if i == len(words) - 1:
            event["candidates"][0]["finishReason"] = "STOP"
        events.append("data: " + json.dumps(event, separators=(",", ":")) + "\r\n\r\n")
    return "".join(events)


def _nginx_string(text: str) -> str:
    return (
        "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\r", "\\r").replace("\n", "\\n") + "'"
    )


CONFIG = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location ~ :streamGenerateContent$ {{
            default_type text/event-stream;
            return 200 {stream};
        }}
        location ~ :generateContent$ {{
            default_type application/json;
            return 200 {answer};
        }}
        location / {{
            default_type application/json;
            return 200 '{{"models":[]}}';
        }}
    }}
}}
"""


def ensure_tools() -> None:
    missing = [
        tool for tool in ("nginx", "wrk") if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        packages = ["nginx-light" if t == "nginx" else t for t in missing]
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True)


class NginxUpstream:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "NginxUpstream":
        conf = self.dir / "nginx.conf"
        conf.write_text(
            CONFIG.format(
                dir=self.dir,
                port=self.port,
                stream=_nginx_string(_stream_body()),
                answer=_nginx_string(json.dumps(ANSWER, separators=(",", ":"))),
            )
        )
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(self.dir)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
