"""sync/http.py, the one HTTP client helper: each kind of failure in one plain sentence, against real sockets.

Closed ports, a socket that is not HTTP, one that is not TLS, a TLS server
signed by an unknown authority, a stall, a redirect loop, a captive portal's
page and error statuses, all on loopback; plus the rules every client keeps
(sessions made only here, the configured CA trusted over $REQUESTS_CA_BUNDLE,
enrolment never resending its one-time code).
"""

from __future__ import annotations

import ast
import http.server
import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
import requests
from cli_helpers import run_main, write_terminal_config

from kiosk.cli import main as kiosk_main
from sync.enrollment import enrollment_string
from sync.http import ForeignAnswer, api_url, describe_error, make_session
from test_sync_tls import private_ca  # noqa: F401 - fixture: a private CA and a server certificate it signed

ROOT = Path(__file__).resolve().parent.parent
QUICK = (2.0, 2.0)


class RawServer:
    """A loopback TCP server that reads one request per connection and sends ``payload`` (or nothing)."""

    def __init__(self, payload: bytes | None, *, stall: bool = False, context: ssl.SSLContext | None = None):
        self.payload, self.stall, self.context = payload, stall, context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        try:
            if self.context is not None:
                client = self.context.wrap_socket(client, server_side=True)
            client.recv(65536)
            if self.stall:
                self.done.wait(10)
            elif self.payload is not None:
                client.sendall(self.payload)
        except OSError:
            pass  # the client refused our certificate, or gave up
        finally:
            client.close()

    def close(self) -> None:
        self.done.set()
        self.listener.close()


@pytest.fixture
def raw_server():
    made = []

    def start(payload: bytes | None, **kwargs) -> RawServer:
        made.append(RawServer(payload, **kwargs))
        return made[-1]

    yield start
    for server in made:
        server.close()


def http_answer(status: str, body: bytes, *headers: str) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{head}Connection: close\r\n\r\n".encode() + body


def failure(url: str, *, session=None, check=lambda answer: None, timeout=QUICK) -> requests.RequestException:
    """The exception a GET of ``url`` ends in (the answer goes through ``check`` first)."""
    session = session or make_session(retries=None)
    with pytest.raises((requests.RequestException, OSError)) as caught:
        check(session.get(url, timeout=timeout))
    return caught.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- each kind of failure, one sentence -------------------------------------------------------------

def test_a_closed_port_cannot_be_reached():
    url = f"http://127.0.0.1:{closed_port()}"
    assert describe_error(failure(url), url) == f"cannot reach {url} (connection refused)"


def test_a_closed_port_said_to_the_terminal_names_the_server():
    exc = failure(f"http://127.0.0.1:{closed_port()}")
    assert describe_error(exc) == "cannot reach the server (connection refused)"


def test_a_connection_closed_without_an_answer(raw_server):
    url = f"http://127.0.0.1:{raw_server(None).port}"
    assert describe_error(failure(url), url) == f"cannot reach {url} (the connection was closed without an answer)"


def test_a_socket_that_does_not_speak_http(raw_server):
    banner = raw_server(b"SSH-2.0-OpenSSH_9.2\r\n")
    url = f"http://127.0.0.1:{banner.port}"
    assert describe_error(failure(url), url) == \
        f"{url} did not answer like a Hài Lòng server (not in HTTP: is the port right?)"


def test_a_stall_did_not_answer_in_time(raw_server):
    url = f"http://127.0.0.1:{raw_server(None, stall=True).port}"
    assert describe_error(failure(url, timeout=(2.0, 0.3)), url) == f"{url} did not answer in time"


def test_https_to_a_port_without_tls(raw_server):
    url = f"https://127.0.0.1:{raw_server(http_answer('200 OK', b'hello')).port}"
    sentence = describe_error(failure(url), url)
    assert sentence.startswith(f"{url} did not answer in TLS (")
    assert sentence.endswith(": is the address http://, or the port wrong?)")


def tls_context(private_ca) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(private_ca / "server.pem", private_ca / "server.key")
    return context


def test_a_certificate_from_an_unknown_authority_is_refused_with_the_reason(raw_server, private_ca):
    url = f"https://127.0.0.1:{raw_server(http_answer('200 OK', b'{}'), context=tls_context(private_ca)).port}"
    exc = failure(url)
    assert describe_error(exc, url) == \
        f"the TLS certificate of {url} was refused (unable to get local issuer certificate)"
    assert describe_error(exc) == "the server's TLS certificate was refused (unable to get local issuer certificate)"
    assert describe_error(exc, f"the server at {url}").startswith("the server's TLS certificate was refused (")


def test_a_ca_bundle_that_does_not_exist_is_said_so(raw_server, private_ca, tmp_path):
    url = f"https://127.0.0.1:{raw_server(http_answer('200 OK', b'{}'), context=tls_context(private_ca)).port}"
    exc = failure(url, session=make_session(retries=None, ca_bundle=str(tmp_path / "missing.pem")))
    assert describe_error(exc, url).startswith(f"cannot check the TLS certificate of {url} (")
    assert "missing.pem" in describe_error(exc, url)


def test_a_redirect_loop(raw_server):
    url = f"http://127.0.0.1:{raw_server(http_answer('302 Found', b'', 'Location: /again')).port}"
    assert describe_error(failure(url), url) == f"{url} sent too many redirects (a captive portal or a wrong address?)"


def test_a_captive_portals_page_is_not_json(raw_server):
    url = f"http://127.0.0.1:{raw_server(http_answer('200 OK', b'<html>Wi-Fi login</html>')).port}"
    exc = failure(url, check=lambda answer: answer.json())
    assert describe_error(exc, url) == f"{url} did not answer like a Hài Lòng server (its answer is not JSON)"


def test_an_answer_of_the_wrong_shape_is_foreign():
    assert describe_error(ForeignAnswer("HTTP 200 for /healthz"), "https://hl.example.vn") == \
        "https://hl.example.vn did not answer like a Hài Lòng server (HTTP 200 for /healthz)"


@pytest.mark.parametrize(("status", "body", "says"), [
    ("503 Service Unavailable", b"down", "is busy or failing (503)"),
    ("429 Too Many Requests", b"", "is busy or failing (429)"),
    ("400 Bad Request", b'{"ok": false, "error": "limit must be at most 10000"}',
     "rejected the request (400: limit must be at most 10000)"),
    ("404 Not Found", b"<html>nothing here</html>", "rejected the request (404: Not Found)"),
])
def test_an_error_status_in_words(raw_server, status, body, says):
    url = f"http://127.0.0.1:{raw_server(http_answer(status, body)).port}"
    exc = failure(url, check=lambda answer: answer.raise_for_status())
    assert describe_error(exc, url) == f"{url} {says}"


# -- the rules every client keeps ---------------------------------------------------------------------

def test_the_configured_ca_wins_over_requests_ca_bundle(raw_server, private_ca, monkeypatch):
    """requests lets $REQUESTS_CA_BUNDLE replace a session's own trust; ours holds without verify= on each call."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    url = f"https://127.0.0.1:{raw_server(http_answer('200 OK', b'{}'), context=tls_context(private_ca)).port}"
    answer = make_session(retries=None, ca_bundle=str(private_ca / "ca.pem")).get(url, timeout=QUICK)
    assert answer.status_code == 200 and answer.json() == {}


def test_api_urls_are_built_from_the_prefix():
    assert api_url("https://hl.example.vn/", "ratings") == "https://hl.example.vn/api/v1/ratings"
    assert api_url("https://hl.example.vn", "/healthz") == "https://hl.example.vn/healthz"


def test_the_retry_policy_is_the_one_given_and_none_means_none():
    from urllib3.util.retry import Retry

    assert make_session(retries=None).get_adapter("https://x").max_retries.total == 0
    assert make_session(retries=Retry(total=4)).get_adapter("http://x").max_retries.total == 4


def _sessions_made(path: Path) -> list[int]:
    """Lines of ``path`` that call ``requests.Session()`` / ``Session()`` or subclass it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        named = []
        if isinstance(node, ast.Call):
            named = [node.func]
        elif isinstance(node, ast.ClassDef):
            named = node.bases
        for name in named:
            if (isinstance(name, ast.Attribute) and name.attr == "Session"
                    and isinstance(name.value, ast.Name) and name.value.id == "requests") \
                    or (isinstance(name, ast.Name) and name.id == "Session"):
                lines.append(node.lineno)
    return lines


def test_only_sync_http_makes_a_requests_session():
    # The clients of our server; server/alerts.py's webhook client talks to someone else's.
    made = {str(path.relative_to(ROOT)): lines
            for package in ("sync", "kiosk", "admin", "reports", "hardware")
            for path in sorted((ROOT / package).rglob("*.py"))
            if (lines := _sessions_made(path))}
    assert set(made) == {"sync/http.py"}, made


def test_enrolment_never_resends_its_code(tmp_path, capsys):
    """A 502 from a proxy may hide an enrolment the server made: sending the one-time code again would burn it."""
    seen = []

    class BehindAProxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(("GET", self.path))
            self._send("200 OK", json.dumps({"ok": True, "version": "0.1.0"}).encode())

        def do_POST(self):
            seen.append(("POST", self.path))
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send("502 Bad Gateway", b'{"ok": false, "error": "upstream timed out"}')

        def _send(self, status, body):
            self.send_response(int(status.split()[0]))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BehindAProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        config_path = write_terminal_config(tmp_path)
        string = enrollment_string(url, "hl_enr_abcdefghijklmnopqrstuvwxyz234567")
        status, _out, err = run_main(kiosk_main, ["provision", string, "--config", str(config_path)], capsys)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert status == 1 and "the server refused the code (502: upstream timed out)" in err
    assert seen == [("GET", "/healthz"), ("POST", "/api/v1/enroll")]
