"""A small real HTTP server on loopback for the updater's tests and benches (tests/test_update_*.py, bench/).

It speaks the parts of the terminal protocol an update needs, as the contract (notes ISSUE13) fixes them:
``POST /api/v1/batches`` (every rating stored, the health kept, the receipt offering ``release`` while the
terminal runs another version and has not reported ``rolled_back``/``failed`` for it),
``GET /api/v1/terminal/releases/{version}`` (the ``.sig`` JSON) and ``.../archive`` (the bytes, with HTTP
Range: 206, 416, ETag). The real server's endpoints are built on branch release-server; this stands in for
them here, with what a test needs besides: a bandwidth bound, a cut after N bytes, the bytes sent counted.

    server = ReleaseServer().start()
    server.publish(archive_path, sig_path)         # then server.offer("1.2.0")
    server.url, server.ratings, server.healths
    server.stop()
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN = "release-test-token"


class ReleaseServer:
    def __init__(self, *, max_kbps: float = 0):
        self.releases: dict[str, tuple[Path, bytes]] = {}
        self.offered: str | None = None
        self.ratings: dict[str, dict] = {}
        self.healths: list[dict] = []
        self.max_kbps = max_kbps
        #: Cut the next archive answer after this many bytes (then None again): an interrupted download.
        self.cut_after: int | None = None
        self.archive_bytes_sent = 0
        #: Batches from a terminal running this version get a 503 (a version that cannot reach its server).
        self.refuse_version: str | None = None
        self.archive_requests: list[str | None] = []  # the Range header of each
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> "ReleaseServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def publish(self, archive: Path, sig: Path) -> str:
        document = sig.read_bytes()
        version = json.loads(document)["statement"]["version"]
        self.releases[version] = (Path(archive), document)
        return version

    def offer(self, version: str | None) -> None:
        self.offered = version

    def last_health(self) -> dict | None:
        with self.lock:
            return self.healths[-1] if self.healths else None

    def _offer_for(self, health: dict) -> dict | None:
        version = self.offered
        if version is None or health.get("app_version") == version:
            return None
        if health.get("update_version") == version and health.get("update_state") in ("rolled_back", "failed"):
            return None
        statement = json.loads(self.releases[version][1])["statement"]
        return {"version": version, "size": statement["size"], "sha256": statement["sha256"]}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, status: int, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._json(401, {"error": "bad token"})
                    return False
                return True

            def do_POST(self):
                if self.path != "/api/v1/batches" or not self._authorised():
                    return self._json(404, {"error": "not found"}) if self.path != "/api/v1/batches" else None
                batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if batch["health"].get("app_version") == server.refuse_version:
                    return self._json(503, {"error": "unavailable"})
                with server.lock:
                    for rating in batch["ratings"]:
                        server.ratings.setdefault(rating["id"], rating)
                    server.healths.append(batch["health"])
                receipt = {"ok": True, "acks": [{"id": r["id"], "status": "stored"} for r in batch["ratings"]],
                           "received_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                           "clock_offset_s": 0.0}
                offer = server._offer_for(batch["health"])
                if offer:
                    receipt["release"] = offer
                self._json(200, receipt)

            def do_GET(self):
                match = re.fullmatch(r"/api/v1/terminal/releases/([^/]+)(/archive)?", self.path)
                if not match:
                    return self._json(404, {"error": "not found"})
                if not self._authorised():
                    return
                version, archive = match.group(1), bool(match.group(2))
                if version not in server.releases:
                    return self._json(404, {"error": f"no release {version}"})
                path, document = server.releases[version]
                if not archive:
                    return self._json(200, json.loads(document))
                self._archive(path)

            def _archive(self, path: Path):
                size = path.stat().st_size
                etag = f'"{size}-{int(path.stat().st_mtime)}"'
                asked = self.headers.get("Range")
                server.archive_requests.append(asked)
                start = 0
                if asked:
                    m = re.fullmatch(r"bytes=(\d+)-", asked)
                    if not m or int(m.group(1)) >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    start = int(m.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(size - start))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", etag)
                self.end_headers()
                cut, server.cut_after = server.cut_after, None
                sent = 0
                began = time.monotonic()
                rate = server.max_kbps * 1024
                with open(path, "rb") as f:
                    f.seek(start)
                    while block := f.read(32 * 1024):
                        if cut is not None and sent + len(block) > cut:
                            block = block[:cut - sent]
                            self.wfile.write(block)
                            server.archive_bytes_sent += len(block)
                            self.close_connection = True
                            return  # the link breaks here
                        try:
                            self.wfile.write(block)
                        except (BrokenPipeError, ConnectionResetError):
                            return
                        sent += len(block)
                        server.archive_bytes_sent += len(block)
                        if rate:
                            wait = sent / rate - (time.monotonic() - began)
                            if wait > 0:
                                time.sleep(wait)

        return Handler
