"""Resumable, bandwidth-bounded downloads into a ``.part`` file (software updates, issue 13).

The bytes go to ``<dest>.part``; a later call sends ``Range: bytes=<have>-`` and appends, so nothing
already on disk is fetched twice. The space left beside the file is checked before the first byte, every
request has a timeout, and anything that goes wrong is a :class:`DownloadError` with a plain sentence.

    result = download(session, url, Path("/opt/hai-long/download/b.tar.gz"), size=offer.size,
                      headers={"Authorization": f"Bearer {token}"}, max_kbps=200, min_free_bytes=200 << 20)
    result.fetched            # bytes received by this call (the rest was already there)

    >>> Throttle(0).delay(10_000, 1.0)
    0.0
    >>> Throttle(100).delay(204_800, 1.0)   # 200 KB at 100 KB/s take 2 s: wait 1 s more
    1.0
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import SyncError
from .http import TIMEOUT, describe_error, describe_status

CHUNK = 64 * 1024
#: The part file is flushed to disk every this many bytes: a power cut loses at most this much.
SYNC_EVERY = 1 << 20
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(SyncError, RuntimeError):
    """The download cannot go on (no space, the server refused, the link broke); the ``.part`` stays."""


class DownloadStopped(DownloadError):
    """Asked to stop (the terminal is closing); the ``.part`` stays for the next try."""


@dataclass
class DownloadResult:
    path: Path
    size: int
    #: Bytes received by this call; the rest was in the ``.part`` already.
    fetched: int
    resumed_from: int
    seconds: float


class Throttle:
    """At most ``kbps`` KB/s (1 KB = 1024 bytes) on average since the start; 0: unbounded."""

    def __init__(self, kbps: float):
        self.rate = kbps * 1024.0

    def delay(self, sent: int, elapsed: float) -> float:
        if self.rate <= 0:
            return 0.0
        return max(0.0, sent / self.rate - elapsed)


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def download(session: requests.Session, url: str, dest: str | Path, *, size: int, headers: dict | None = None,
             max_kbps: float = 0, min_free_bytes: int = 0, timeout=TIMEOUT, stop: threading.Event | None = None,
             sleep=time.sleep, monotonic=time.monotonic) -> DownloadResult:
    """Fetch ``url`` (``size`` bytes) into ``dest``, resuming ``dest.part``; ``dest`` appears only when whole.

    The caller checks the content (signature, hash); a size that does not match is an error here.
    """
    dest = Path(dest)
    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # not this release's bytes
        part.unlink()
        have = 0
    free = shutil.disk_usage(dest.parent).free
    if free - (size - have) < min_free_bytes:
        raise DownloadError(f"not enough space in {dest.parent}: {free >> 20} MB free, the download needs "
                            f"{(size - have) >> 20} MB more and {min_free_bytes >> 20} MB must stay free")
    started = monotonic()
    resumed_from = have
    fetched = 0
    if have < size:
        fetched = _fetch(session, url, part, have=have, size=size, headers=headers or {}, timeout=timeout,
                         throttle=Throttle(max_kbps), stop=stop, sleep=sleep, monotonic=monotonic)
    have = part.stat().st_size
    if have != size:
        raise DownloadError(f"the server sent {have} bytes of {size}: the download stays to be resumed")
    os.replace(part, dest)
    return DownloadResult(dest, size, fetched, resumed_from, monotonic() - started)


def _fetch(session, url, part: Path, *, have: int, size: int, headers: dict, timeout, throttle: Throttle,
           stop, sleep, monotonic) -> int:
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    try:
        response = session.get(url, headers=request_headers, stream=True, timeout=timeout)
    except (requests.RequestException, OSError) as exc:
        raise DownloadError(describe_error(exc)) from None
    with response:
        if response.status_code == 416:  # nothing after what we have: the server's file is no longer
            part.unlink(missing_ok=True)  # what the .part began; start again next time
            raise DownloadError("the server refused the range asked for (416): the download starts again")
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise DownloadError(f"the server answered another range ({response.headers.get('Content-Range')!r}) "
                                    f"than bytes={have}-")
            mode = "ab"
        elif response.status_code == 200:
            mode, have = "wb", 0  # the server ignored Range: the whole file comes again
        else:
            raise DownloadError(describe_status(response))
        fetched = 0
        started = monotonic()
        unsynced = 0
        try:
            with open(part, mode) as f:
                for block in response.iter_content(CHUNK):
                    if stop is not None and stop.is_set():
                        raise DownloadStopped("stopped: the download goes on at the next start")
                    if have + fetched + len(block) > size:
                        raise DownloadError(f"the server sent more than the {size} bytes offered")
                    f.write(block)
                    fetched += len(block)
                    unsynced += len(block)
                    if unsynced >= SYNC_EVERY:
                        f.flush()
                        os.fsync(f.fileno())
                        unsynced = 0
                    wait = throttle.delay(fetched, monotonic() - started)
                    if wait > 0:
                        if stop is not None:
                            if stop.wait(wait):
                                raise DownloadStopped("stopped: the download goes on at the next start")
                        else:
                            sleep(wait)
                f.flush()
                os.fsync(f.fileno())
        except (requests.RequestException, OSError) as exc:
            raise DownloadError(f"the download broke off after {have + fetched} of {size} bytes "
                                f"({describe_error(exc)}); it goes on from there next time") from None
    return fetched
