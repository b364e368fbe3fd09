"""Server addresses a terminal may use."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import SyncConfigError


def check_server_url(url: str, *, allow_http: bool = False) -> str:
    """The URL without a trailing slash; plain http only to loopback unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SyncConfigError(f"server URL {url!r} is not an http(s) address such as https://hailong.example.vn")
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise SyncConfigError(
            f"server URL {url!r} is plain http to another machine: use https, or set "
            "[server] allow_http = true if this network is trusted")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
