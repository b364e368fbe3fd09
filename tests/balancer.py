"""HAProxy (Debian's ``haproxy``) in front of several ``kiosk-server serve`` processes, for tests and the fleet bench.

    balancer = HAProxy([8081, 8082, 8083], folder=tmp_path).start()
    requests.get(balancer.url + "/healthz").headers["X-Served-By"]   # 'replica1', then 'replica2', …
    balancer.stop()

Round robin, one request at a time (HTTP mode balances each request, even on
a kept-alive client connection), a health check on ``GET /healthz``, and an
``X-Served-By`` answer header naming the replica that answered, added by the
balancer (the application sends no such header). Runs in the foreground
(``-db``) as a child process; its output goes to ``haproxy.log`` in ``folder``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests


def haproxy_binary() -> str | None:
    """The haproxy program (Debian puts it in /usr/sbin, which a user's PATH may lack), or None."""
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                            if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def replica_name(index: int) -> str:
    return f"replica{index + 1}"


class HAProxy:
    """One haproxy process listening on 127.0.0.1:``port`` (free one by default), balancing over ``server_ports``."""

    def __init__(self, server_ports: list[int], *, folder: Path, port: int | None = None, maxconn: int = 4096):
        binary = haproxy_binary()
        if binary is None:
            raise FileNotFoundError("haproxy not found; Debian: apt-get install haproxy")
        self.binary = binary
        self.server_ports = list(server_ports)
        self.folder = Path(folder)
        self.port = port or _free_port()
        self.maxconn = maxconn
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "haproxy.cfg"

    def config(self) -> str:
        servers = "\n".join(f"    server {replica_name(i)} 127.0.0.1:{port} check inter 1s fall 3 rise 1"
                            for i, port in enumerate(self.server_ports))
        return f"""global
    maxconn {self.maxconn}

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout check 5s
    option forwardfor

frontend hailong
    bind 127.0.0.1:{self.port}
    default_backend hailong_replicas

backend hailong_replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    http-response set-header X-Served-By %[srv_name]
{servers}
"""

    def start(self, *, timeout_s: float = 30.0) -> "HAProxy":
        """Start haproxy and wait until every replica is up behind it (each seen answering ``/healthz``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config(), encoding="utf-8")
        check = subprocess.run([self.binary, "-c", "-q", "-f", str(self.config_path)], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration: {check.stderr or check.stdout}")
        with open(self.folder / "haproxy.log", "ab") as log:
            self.process = subprocess.Popen([self.binary, "-db", "-f", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT)
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while len(seen) < len(self.server_ports):
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited ({self.process.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not reach every replica within {timeout_s} s "
                                   f"(seen: {sorted(seen)}): {self.log_tail()}")
            try:
                answer = requests.get(self.url + "/healthz", timeout=2)
                if answer.status_code == 200:
                    seen.add(answer.headers.get("X-Served-By", ""))
                    continue
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "haproxy.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
