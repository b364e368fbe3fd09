"""``kiosk-server serve`` as a real child process on a fixed loopback port, so a test can kill it.

Unlike ``server_fixtures.LiveServer`` (uvicorn in a thread of the test), this
server can be killed with SIGKILL mid-request and started again on the same
database and the same port, as a crash or a power cut would do::

    server = ServerProcess("sqlite:///tmp/server.db", log_path=tmp_path / "server.log").start()
    server.kill()    # SIGKILL, whatever it was doing
    server.start()   # the same database, the same port
    server.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One ``kiosk-server serve --db URL`` child at a time; its output is appended to ``log_path``."""

    def __init__(self, db_url: str, *, log_path: Path, port: int | None = None, options: tuple[str, ...] = ()):
        self.db_url = db_url
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.options = options
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 60.0) -> "ServerProcess":
        """Start the server and wait until ``/healthz`` answers."""
        return self.launch().wait_ready(timeout_s=timeout_s)

    def launch(self) -> "ServerProcess":
        """Start the server without waiting (several can then start at the same moment); see :meth:`wait_ready`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from server.cli import main; main()", "serve", "--db", self.db_url,
                 "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", *self.options],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        self.starts += 1
        return self

    def wait_ready(self, *, timeout_s: float = 60.0) -> "ServerProcess":
        """Wait until ``/healthz`` answers; raise with the end of the log if the server exits or is too slow."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"kiosk-server exited ({self.process.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kiosk-server did not answer within {timeout_s} s: {self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback by the server itself; open transactions die with it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
