"""Enrolment: a one-time code from the district buys a terminal id and a device token.

The server address and the code travel together as one *enrolment string*
(printed, put in a QR code, pasted into ``kiosk provision``)::

    hailong1:<base64url, unpadded, of the UTF-8 JSON {"u": server URL, "c": code}>

The ``1`` is the format's version. The alphabet is letters, digits, ``-``,
``_`` and one ``:``, so the string survives a shell without quotes, chat
apps and e-mail; whitespace (a wrapped line) is ignored when it is read.

    >>> text = enrollment_string("https://hailong.example.vn/", "hl_enr_abc2")
    >>> text
    'hailong1:eyJ1IjoiaHR0cHM6Ly9oYWlsb25nLmV4YW1wbGUudm4iLCJjIjoiaGxfZW5yX2FiYzIifQ'
    >>> parse_enrollment_string(text)
    ('https://hailong.example.vn', 'hl_enr_abc2')
"""

from __future__ import annotations

import base64
import binascii
import json
import re

import requests
from pydantic import ValidationError
from urllib3.util.retry import Retry

from . import http
from .addresses import check_server_url
from .errors import EnrollmentError, SyncConfigError, response_message
from .http import TIMEOUT, ForeignAnswer, describe_error
from .protocol import Enrollment, EnrollmentReceipt

#: What a technician can do about a failed request, by the sentence it follows.
_TLS_ADVICE = "check the address, the terminal's clock, or set [server] ca_bundle for a private CA"
_NETWORK_ADVICE = "check the network and the address"


def enrollment_session(*, ca_bundle: str | None = None) -> requests.Session:
    """The session for :func:`check_server` and :func:`enroll`: TLS verified (``[server] ca_bundle`` or the system's).

    A refused or dropped connection is tried again (nothing reached the
    server); an answer never is: the enrolment code is spent once.
    """
    retries = Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.5, raise_on_status=False)
    return http.make_session(retries=retries, ca_bundle=ca_bundle, user_agent=http.user_agent("terminal"))


def _failed(exc: BaseException, server: str) -> EnrollmentError:
    """The request to ``server`` failed: what happened and what to do, in one sentence."""
    if isinstance(exc, requests.exceptions.SSLError):
        advice = _TLS_ADVICE
    elif isinstance(exc, requests.RequestException):
        advice = "check the address" if isinstance(exc, ForeignAnswer) else _NETWORK_ADVICE
    else:  # an OSError: e.g. a [server] ca_bundle file that does not exist
        advice = "check [server] ca_bundle"
    return EnrollmentError(f"{describe_error(exc, server)}; {advice}")


def enroll(server_url: str, code: str, *, session: requests.Session, app_version: str,
           allow_http: bool = False) -> EnrollmentReceipt:
    """Ask the server for an id and a token; raises :class:`EnrollmentError` in words."""
    server_url = check_server_url(server_url, allow_http=allow_http)
    body = Enrollment(code=code.strip(), app_version=app_version).model_dump_json()
    try:
        response = session.post(http.api_url(server_url, "enroll"), data=body, timeout=TIMEOUT,
                                headers={"Content-Type": "application/json"})
    except (requests.RequestException, OSError) as exc:
        raise _failed(exc, f"the server at {server_url}") from None
    if response.status_code not in (200, 201):
        raise EnrollmentError(f"the server refused the code ({response.status_code}: {response_message(response)})")
    try:
        return EnrollmentReceipt.model_validate_json(response.content)
    except ValidationError:
        raise _failed(ForeignAnswer(f"HTTP {response.status_code} without an enrolment receipt"),
                      f"the server at {server_url}") from None


# -- the one-string form --------------------------------------------------------------------------

STRING_SCHEME = "hailong"
STRING_VERSION = 1
STRING_PREFIX = f"{STRING_SCHEME}{STRING_VERSION}:"
CODE_PATTERN = re.compile(r"hl_enr_[a-z2-7]{4,120}")


class EnrollmentStringError(SyncConfigError):
    """An enrolment string that cannot be read; the message says why in one sentence."""


def enrollment_string(server_url: str, code: str) -> str:
    """The one copyable string that holds ``server_url`` and ``code`` (see the module's docstring)."""
    server_url = check_server_url(server_url.strip(), allow_http=True)
    code = code.strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise EnrollmentStringError(f"{code!r} is not an enrolment code (they start with hl_enr_)")
    payload = json.dumps({"u": server_url, "c": code}, separators=(",", ":"), ensure_ascii=False)
    return STRING_PREFIX + base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def parse_enrollment_string(text: str) -> tuple[str, str]:
    """``(server_url, code)`` from an enrolment string; raises :class:`EnrollmentStringError`.

    The URL is only checked for form here: whether plain http is allowed is
    the terminal's config to say, when it enrols.
    """
    compact = re.sub(r"\s+", "", text or "")
    scheme, colon, body = compact.partition(":")
    version = re.fullmatch(rf"{STRING_SCHEME}(\d+)", scheme, re.I)
    if not colon or version is None:
        if re.match(r"https?://", compact, re.I):
            raise EnrollmentStringError("this is a server address, not an enrolment string; give the whole "
                                        f"string that starts with {STRING_PREFIX}, or --server URL --code CODE")
        if compact.lower().startswith("hl_enr_"):
            raise EnrollmentStringError("this is a bare enrolment code, not an enrolment string; give it as "
                                        "--code CODE with --server URL")
        raise EnrollmentStringError(f"this is not an enrolment string: those start with {STRING_PREFIX}")
    if int(version.group(1)) != STRING_VERSION:
        raise EnrollmentStringError(f"this enrolment string is of version {int(version.group(1))}, which this "
                                    f"terminal cannot read (it reads version {STRING_VERSION}); update the terminal "
                                    "or ask for --server URL --code CODE")
    damaged = EnrollmentStringError("this enrolment string is damaged or cut short; copy it again whole, "
                                    "or scan its QR code")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", body) or len(body) % 4 == 1:
        raise damaged
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise damaged from None
    if not isinstance(payload, dict) or set(payload) != {"u", "c"} \
            or not all(isinstance(value, str) for value in payload.values()):
        raise damaged
    code = payload["c"].strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise damaged
    try:
        server_url = check_server_url(payload["u"].strip(), allow_http=True)
    except SyncConfigError:
        raise damaged from None
    return server_url, code


# -- before enrolling: is the server there, and is its certificate good? --------------------------

def check_server(server_url: str, *, session: requests.Session, allow_http: bool = False) -> str:
    """``GET /healthz`` through ``session`` (its CA bundle); the server's version, or :class:`EnrollmentError`.

    Nothing is sent but the request itself, so a wrong address or an
    untrusted certificate is found before a code is spent or a file written.
    """
    server_url = check_server_url(server_url, allow_http=allow_http)
    try:
        response = session.get(http.api_url(server_url, "/healthz"), timeout=TIMEOUT, allow_redirects=False)
    except (requests.RequestException, OSError) as exc:
        raise _failed(exc, server_url) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("ok") is not True or "version" not in body:
        if response.status_code == 503:
            raise EnrollmentError(f"{server_url} answers but its database does not; ask the administrator")
        raise _failed(ForeignAnswer(f"HTTP {response.status_code} for /healthz"), server_url)
    return str(body["version"])
