"""A fault-injecting HTTP proxy on loopback, between a terminal and the server.

Each new connection takes the next fault from a script (then passes
traffic through): the network failures a terminal meets in the field.
One request per connection; the proxy closes after answering. The proxy
also counts what the server itself answered (``upstream_statuses``), so a
test can tell the server's own 5xx from the injected ones.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import Counter, deque

FAULTS = (
    "pass",          # forward the request and the answer
    "refuse",        # connection refused (nobody listens for a moment)
    "stall",         # accept, read, never answer
    "reset_before",  # reset before the request reaches the server
    "reset_after",   # the server commits, the answer is lost in a reset
    "http_500",      # an internal error from a proxy in between
    "http_429",      # too many requests, with Retry-After
    "html_200",      # a captive portal's "200 OK" page
    "trickle",       # the server commits, its answer comes back a byte at a time, slowly
)


def _read_http_message(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Read one HTTP message (headers plus Content-Length body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _answer(status: str, body: bytes, content_type: str, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n").encode() + body


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], *, retry_after_s: int = 1, trickle_s: float = 0.02):
        self.upstream = upstream
        self.retry_after_s = retry_after_s
        self.trickle_s = trickle_s  # between two bytes of a trickled answer
        self.script: deque[str] = deque()
        self.seen: list[str] = []
        self.forwarded = 0
        #: Requests the server is working on now (sent to it, its answer not yet read).
        self.in_flight = 0
        #: The server's own answers, by status code (none counted when it died before answering).
        self.upstream_statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self.port = 0
        self._thread: threading.Thread | None = None

    def start(self) -> "FaultProxy":
        self._listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, *faults: str) -> None:
        for fault in faults:
            assert fault in FAULTS, fault
        with self._lock:
            self.script.extend(faults)

    def queued(self) -> int:
        """Faults injected and not met yet."""
        with self._lock:
            return len(self.script)

    def clear(self) -> None:
        """No more faults: every new connection passes."""
        with self._lock:
            self.script.clear()

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.2)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _next_fault(self) -> str:
        with self._lock:
            fault = self.script.popleft() if self.script else "pass"
            self.seen.append(fault)
            return fault

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                refuse = bool(self.script) and self.script[0] == "refuse"
                if refuse:
                    self.script.popleft()
                    self.seen.append("refuse")
            if refuse:
                # Nobody listens for a moment: connects are refused.
                self._listener.close()
                time.sleep(0.3)
                self._listen()
                continue
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(client, self._next_fault()), daemon=True).start()

    def _handle(self, client: socket.socket, fault: str) -> None:
        try:
            request = _read_http_message(client)
            if not request:
                client.close()
                return
            if fault == "stall":
                self._stop.wait(60)
                client.close()
            elif fault == "reset_before":
                _reset(client)
            elif fault == "http_500":
                client.sendall(_answer("500 Internal Server Error", b"upstream error", "text/plain"))
                client.close()
            elif fault == "http_429":
                client.sendall(_answer("429 Too Many Requests", b'{"ok": false, "error": "slow down"}',
                                       "application/json", f"Retry-After: {self.retry_after_s}\r\n"))
                client.close()
            elif fault == "html_200":
                page = "<html><body><h1>Đăng nhập Wi-Fi</h1>Please log in</body></html>".encode()
                client.sendall(_answer("200 OK", page, "text/html; charset=utf-8"))
                client.close()
            else:  # pass, reset_after, trickle
                response = self._forward(request)
                if fault == "reset_after":
                    _reset(client)
                elif fault == "trickle":
                    for i in range(len(response)):
                        if self._stop.wait(self.trickle_s):
                            break
                        client.sendall(response[i:i + 1])
                    client.close()
                else:
                    client.sendall(response)
                    client.close()
        except OSError:
            client.close()

    def _forward(self, request: bytes) -> bytes:
        """Send ``request`` to the server and return its answer; counts its status."""
        with self._lock:
            self.in_flight += 1
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
            try:
                upstream.sendall(request)
                response = _read_http_message(upstream)
            finally:
                upstream.close()
        finally:
            with self._lock:
                self.in_flight -= 1
        status = response.split(b" ", 2)[1] if response.startswith(b"HTTP/") else b""
        with self._lock:
            self.forwarded += 1
            if status.isdigit():
                self.upstream_statuses[int(status)] += 1
        if not status.isdigit():  # the server died mid-request: no answer at all
            raise OSError("the server closed the connection without answering")
        return response

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        if self._thread is not None:
            self._thread.join(2)
