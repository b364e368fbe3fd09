"""TLS: the terminal verifies the server's certificate; a private CA is trusted only when configured."""

import subprocess
import threading
import time

import pytest

from kiosk.timekeeping import SystemClock
from server_fixtures import ServerHarness
from sync.enrollment import enroll
from sync.errors import EnrollmentError
from sync.local import LocalRatings
from sync.uploader import Uploader, make_session


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def private_ca(tmp_path):
    """A private CA and a server certificate it signed for 127.0.0.1 (made with the openssl command)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Hai Long test CA", cwd=tmp_path)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=tmp_path)
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext", cwd=tmp_path)
    return tmp_path


class TlsLiveServer:
    """uvicorn serving ``app`` over HTTPS on 127.0.0.1 (port chosen by the kernel)."""

    def __init__(self, app, certfile, keyfile):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the TLS server did not start"
            time.sleep(0.01)
        self.url = f"https://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def tls_server(private_ca, tmp_path):
    from server import Settings, create_app

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'server.db'}"))
    live = TlsLiveServer(app, private_ca / "server.pem", private_ca / "server.key")
    yield ServerHarness(app, live)
    live.stop()
    app.state.engine.dispose()


def test_an_unknown_ca_is_refused_before_anything_is_sent(tls_server):
    with pytest.raises(EnrollmentError, match="TLS certificate was refused"):
        enroll(tls_server.url, tls_server.issue_code(), session=make_session(), app_version="0.1.0")
    assert tls_server.count("terminals") == 0


def test_the_configured_private_ca_is_trusted_for_enrolment_and_upload(tls_server, private_ca, tmp_path):
    from kiosk.store import RatingStore

    session = make_session(ca_bundle=str(private_ca / "ca.pem"))
    receipt = enroll(tls_server.url, tls_server.issue_code(), session=session, app_version="0.1.0")
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=receipt.terminal_id)
    store.record_press("satisfied", source="button")
    local = LocalRatings(tmp_path / "kiosk.db")
    uploader = Uploader(local, server_url=tls_server.url, token=receipt.device_token,
                        stamp=SystemClock().stamp, app_version="0.1.0", session=session)
    try:
        assert uploader.drain()["sent"] == 1
        assert tls_server.count() == 1
    finally:
        local.close()
        store.close()


def test_an_upload_to_an_untrusted_server_fails_and_keeps_the_rating(tls_server, tmp_path, private_ca):
    from kiosk.store import RatingStore

    receipt = enroll(tls_server.url, tls_server.issue_code(),
                     session=make_session(ca_bundle=str(private_ca / "ca.pem")), app_version="0.1.0")
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=receipt.terminal_id)
    store.record_press("satisfied", source="button")
    local = LocalRatings(tmp_path / "kiosk.db")
    uploader = Uploader(local, server_url=tls_server.url, token=receipt.device_token,
                        stamp=SystemClock().stamp, app_version="0.1.0")  # default trust store
    try:
        attempt = uploader.send_batch()
        assert not attempt.ok and "TLS certificate was refused" in attempt.error
        assert local.pending_count() == 1 and tls_server.count() == 0
    finally:
        local.close()
        store.close()
