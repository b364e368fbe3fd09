"""The one HTTP client helper: sessions, addresses and failures in words, for every client of the server.

The uploader, enrolment, ``kiosk-admin pull`` and ``kiosk-admin report
--server`` all talk to the server through a session made here, build their
addresses with :func:`api_url`, and turn what went wrong into one plain
sentence with :func:`describe_error`::

    session = make_session(retries=None, ca_bundle=None, user_agent="hai-long-terminal")
    try:
        answer = session.get(api_url(url, "ratings"), timeout=TIMEOUT)
        answer.raise_for_status()
    except requests.RequestException as exc:
        print(describe_error(exc, url))

    >>> api_url("https://hailong.example.vn/", "batches")
    'https://hailong.example.vn/api/v1/batches'
    >>> describe_error(requests.ConnectTimeout(), "https://hailong.example.vn")
    'https://hailong.example.vn did not answer in time'
"""

from __future__ import annotations

import socket
import ssl
import time
from http.client import BadStatusLine, RemoteDisconnected
from importlib import metadata

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import response_message, shorten
from .protocol import API_PREFIX

#: (connect, read) seconds: the default for a request to the server.
TIMEOUT = (5.0, 30.0)
#: How a sentence names the server when the caller gives no address.
THE_SERVER = "the server"


class ServerSession(requests.Session):
    """A session whose own TLS trust (``[server] ca_bundle``, ``--ca-bundle``) wins over ``$REQUESTS_CA_BUNDLE``.

    Plain requests lets the environment's bundle replace a session's ``verify``
    unless every call passes ``verify=`` again; here the session's choice holds
    for every call (the environment still gives proxies).
    """

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        return super().merge_environment_settings(url, proxies, stream, self.verify if verify is None else verify,
                                                  cert)


def make_session(*, retries: Retry | None, ca_bundle: str | None = None,
                 user_agent: str | None = None) -> ServerSession:
    """A session for the server: the retry policy mounted where it can be seen, TLS verified.

    ``retries`` is the client's urllib3 policy, or None for no retries at all
    (a client that retries itself). ``ca_bundle`` is a PEM file to trust
    instead of the system's authorities.

        >>> session = make_session(retries=Retry(total=2), ca_bundle="/etc/hailong/ca.pem", user_agent="t/1")
        >>> session.get_adapter("https://hl.example.vn").max_retries.total, session.verify
        (2, '/etc/hailong/ca.pem')
    """
    session = ServerSession()
    adapter = HTTPAdapter(max_retries=retries if retries is not None else Retry(0, read=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = ca_bundle or True
    if user_agent:
        session.headers["User-Agent"] = user_agent
    return session


def user_agent(role: str) -> str:
    """``hai-long-<role>/<version>``: what the server's log shows for each kind of client."""
    try:
        version = metadata.version("hai-long")
    except metadata.PackageNotFoundError:  # run from a source tree or a bundle without metadata
        version = "unknown"
    return f"hai-long-{role}/{version}"


def api_url(base: str, path: str) -> str:
    """The address of ``path`` on the server at ``base``: under ``API_PREFIX``, or from the root if it starts with /.

        >>> api_url("https://hl.example.vn", "reports/summary")
        'https://hl.example.vn/api/v1/reports/summary'
        >>> api_url("https://hl.example.vn/", "/healthz")
        'https://hl.example.vn/healthz'
    """
    root = base.rstrip("/")
    return f"{root}{path}" if path.startswith("/") else f"{root}{API_PREFIX}/{path}"


class AnswerTooSlow(requests.ReadTimeout):
    """An answer that kept coming, a few bytes at a time, past its deadline."""


def read_within(response: requests.Response, deadline: float, *, clock=time.monotonic) -> bytes:
    """Read the body of a ``stream=True`` answer whole by ``deadline`` (a ``clock()`` time); it is then
    ``response.content`` as usual. Raises :class:`AnswerTooSlow` past the deadline, and a
    ``requests.RequestException`` when the connection breaks.

    A read timeout bounds each wait for a byte, not the whole answer: without a
    deadline, an answer dribbled out by a failing link keeps the caller as long
    as the dribble lasts.
    """
    raw = response.raw
    read = getattr(raw, "read1", raw.read)  # read1: whatever has arrived, so the deadline is checked often
    chunks: list[bytes] = []
    try:
        while True:
            if clock() > deadline:
                raise AnswerTooSlow(f"the answer was still arriving after its deadline ({len(b''.join(chunks))} bytes)")
            chunk = read(65536, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as exc:
        response.close()
        raise requests.ReadTimeout(exc) from exc
    except urllib3.exceptions.HTTPError as exc:  # a reset or a cut answer
        response.close()
        raise requests.ConnectionError(exc) from exc
    except AnswerTooSlow:
        response.close()
        raise
    # What requests itself keeps after reading a body (Response.content reads these).
    response._content = b"".join(chunks)
    response._content_consumed = True
    return response._content


class ForeignAnswer(requests.RequestException):
    """An answer that is not a Hài Lòng server's (a captive portal, a proxy's page, another site).

    The message says what came instead, e.g. ``HTTP 200 for /healthz``.
    """


def describe_error(exc: BaseException, server: str = THE_SERVER) -> str:
    """One plain sentence for a failed request; ``server`` is how the sentence names the server (its address).

        >>> describe_error(ForeignAnswer("HTTP 200 for /healthz"), "https://hl.example.vn")
        'https://hl.example.vn did not answer like a Hài Lòng server (HTTP 200 for /healthz)'
        >>> describe_error(requests.TooManyRedirects("Exceeded 30 redirects."))
        'the server sent too many redirects (a captive portal or a wrong address?)'
    """
    if isinstance(exc, requests.exceptions.SSLError):
        if _find(exc, ssl.SSLCertVerificationError) is None:  # no certificate to judge: not TLS on that port
            return f"{server} did not answer in TLS ({_reason(exc)}: is the address http://, or the port wrong?)"
        # "the server" (or "the server at <address>") owns its certificate; an address is followed by it.
        whose = "the server's TLS certificate" if server.startswith(THE_SERVER) else f"the TLS certificate of {server}"
        return f"{whose} was refused ({_reason(exc)})"
    if isinstance(exc, requests.Timeout):
        return f"{server} did not answer in time"
    status_line = _find(exc, BadStatusLine)
    if status_line is not None and not isinstance(status_line, RemoteDisconnected):  # something else on that port
        return f"{server} did not answer like a Hài Lòng server (not in HTTP: is the port right?)"
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.RetryError)):
        return f"cannot reach {server} ({_reason(exc)})"
    if isinstance(exc, requests.TooManyRedirects):
        return f"{server} sent too many redirects (a captive portal or a wrong address?)"
    if isinstance(exc, ForeignAnswer):
        return f"{server} did not answer like a Hài Lòng server ({exc})"
    if isinstance(exc, requests.JSONDecodeError):
        return f"{server} did not answer like a Hài Lòng server (its answer is not JSON)"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return describe_status(exc.response, server)
    if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
        # requests reads the CA bundle when it sends: a missing file is an OSError, not a RequestException.
        return f"cannot check the TLS certificate of {server} ({shorten(exc)})"
    return f"the request to {server} failed ({shorten(exc)})"


def describe_status(response: requests.Response, server: str = THE_SERVER) -> str:
    """One plain sentence for an HTTP error status: busy or failing (429, 5xx), else rejected in the server's words."""
    status = response.status_code
    if status == 429 or status >= 500:
        return f"{server} is busy or failing ({status})"
    return f"{server} rejected the request ({status}: {response_message(response)})"


def _chain(exc: BaseException):
    """``exc`` and what it wraps, outermost first: requests wraps urllib3, which wraps the socket's own error."""
    queue, seen = [exc], set()
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), *current.args, current.__cause__, current.__context__]
        queue.extend(item for item in nested if isinstance(item, BaseException))


def _find(exc: BaseException, kind: type) -> BaseException | None:
    return next((item for item in _chain(exc) if isinstance(item, kind)), None)


def _reason(exc: BaseException) -> str:
    """The root cause under requests' and urllib3's wrappers, in a few words (``connection refused``).

    Those wrappers print pool and object addresses, which tell a technician nothing.
    """
    for current in _chain(exc):
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        if isinstance(current, ssl.SSLError):
            return current.reason.replace("_", " ").lower() if current.reason else shorten(current)
        if isinstance(current, socket.gaierror):
            return f"the name cannot be resolved: {current.strerror}"
        if isinstance(current, RemoteDisconnected):
            return "the connection was closed without an answer"
        if type(current).__module__ == "builtins" and isinstance(current, OSError) and current.strerror:
            return current.strerror[:1].lower() + current.strerror[1:]
    return shorten(exc)
