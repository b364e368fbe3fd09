"""sync/download.py against a real HTTP server on loopback (tests/release_server.py): resume with Range into
the .part file (nothing fetched twice), the bandwidth bound, the disk-space check before the first byte, a
timeout on a stalled server, and every failure a DownloadError with a sentence."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from release_server import TOKEN, ReleaseServer
from sync.download import DownloadError, DownloadStopped, download, part_path

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def published(tmp_path):
    """A server holding a 3 MB "release" 1.0.0 (random bytes: the download does not look inside)."""
    archive = tmp_path / "hai-long-kiosk-1.0.0-x86_64.tar.gz"
    archive.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    sig = tmp_path / "x.sig"
    sig.write_text('{"statement": {"version": "1.0.0", "size": 1, "sha256": "0"}}')
    server = ReleaseServer().start()
    server.publish(archive, sig)
    yield server, archive, f"{server.url}/api/v1/terminal/releases/1.0.0/archive"
    server.stop()


def test_an_interrupted_download_resumes_from_the_part_and_fetches_nothing_twice(published, tmp_path):
    server, archive, url = published
    size = archive.stat().st_size
    dest = tmp_path / "got" / "1.0.0.tar.gz"
    server.cut_after = 1_000_000  # the link breaks after ~1 MB
    with requests.Session() as session:
        with pytest.raises(DownloadError, match="broke off after .* it goes on from there"):
            download(session, url, dest, size=size, headers=AUTH)
        have = part_path(dest).stat().st_size
        assert 0 < have <= 1_000_000 and not dest.exists()
        result = download(session, url, dest, size=size, headers=AUTH)
    assert dest.read_bytes() == archive.read_bytes() and not part_path(dest).exists()
    assert (result.resumed_from, result.fetched) == (have, size - have)
    assert server.archive_requests == [None, f"bytes={have}-"]
    assert server.archive_bytes_sent == 1_000_000 + size - have  # only what the cut lost in flight, if anything


def test_the_bandwidth_bound_holds(published, tmp_path):
    server, archive, url = published
    size = archive.stat().st_size
    with requests.Session() as session:
        started = time.monotonic()
        download(session, url, tmp_path / "a.tar.gz", size=size, headers=AUTH, max_kbps=1024)
        took = time.monotonic() - started
    assert took >= size / (1024 * 1024) * 0.95  # 3 MB at 1 MB/s: about 3 s, never much faster


def test_no_space_is_said_before_the_first_byte(published, tmp_path):
    server, archive, url = published
    with requests.Session() as session, pytest.raises(DownloadError, match="not enough space in .* must stay free"):
        download(session, url, tmp_path / "a.tar.gz", size=archive.stat().st_size, headers=AUTH,
                 min_free_bytes=1 << 60)
    assert server.archive_requests == []


def test_a_stalled_server_times_out(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/archive"
    started = time.monotonic()
    with requests.Session() as session, pytest.raises(DownloadError, match="did not answer in time"):
        download(session, url, tmp_path / "a.tar.gz", size=10, timeout=(1.0, 1.0))
    assert time.monotonic() - started < 5
    listener.close()


def test_refusals_and_wrong_answers_are_sentences(published, tmp_path):
    server, archive, url = published
    size = archive.stat().st_size
    with requests.Session() as session:
        with pytest.raises(DownloadError, match="401"):
            download(session, url, tmp_path / "a.tar.gz", size=size)
        with pytest.raises(DownloadError, match="404"):
            download(session, url.replace("1.0.0", "9.9.9"), tmp_path / "b.tar.gz", size=size, headers=AUTH)
        # An offer smaller than the file: the server's extra bytes are refused, not written past the size.
        with pytest.raises(DownloadError, match="more than the"):
            download(session, url, tmp_path / "c.tar.gz", size=size - 10, headers=AUTH)
        # A .part longer than the server's file (another release's bytes): 416, dropped, next time from zero.
        dest = tmp_path / "d.tar.gz"
        part_path(dest).write_bytes(b"x" * (size + 5))
        with pytest.raises(DownloadError):
            download(session, url, dest, size=size + 10, headers=AUTH)
        assert not part_path(dest).exists()


def test_a_stop_request_leaves_the_part_for_later(published, tmp_path):
    server, archive, url = published
    size = archive.stat().st_size
    stop = threading.Event()
    dest = tmp_path / "a.tar.gz"
    threading.Timer(0.5, stop.set).start()
    with requests.Session() as session:
        with pytest.raises(DownloadStopped):
            download(session, url, dest, size=size, headers=AUTH, max_kbps=512, stop=stop)
        assert 0 < part_path(dest).stat().st_size < size
        download(session, url, dest, size=size, headers=AUTH)
    assert Path(dest).read_bytes() == archive.read_bytes()
