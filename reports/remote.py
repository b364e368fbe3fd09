"""The same report, fetched from the server's API (``GET /api/v1/reports/summary``)."""

from __future__ import annotations

import requests

from sync import http
from sync.http import ForeignAnswer, describe_error

from .errors import ReportError
from .counter import report_from_dict
from .figures import Report

#: The report's path under the API prefix.
SUMMARY_PATH = "reports/summary"
#: (connect, read) seconds: a year's report over many terminals takes the server a while.
TIMEOUT = (10.0, 120.0)


class ServerRefused(ReportError, ConnectionError):
    """The server could not be reached, or answered with an error."""


def fetch_report(server: str, token: str, params: dict, *, session: requests.Session | None = None,
                 timeout_s: float | tuple[float, float] = TIMEOUT, verify: bool | str = True) -> Report:
    """The report the server at ``server`` builds for ``params`` (the API's query parameters).

    ``verify`` is a CA bundle to trust (``--ca-bundle``), or True for the system's;
    it is used when no ``session`` is given.

    For example::

        fetch_report("https://hl.example.vn", token, {"period": "quarter", "on": "2026-11-25"})
    """
    query = {key: value for key, value in params.items() if value is not None}
    # One GET that the administrator repeats at will: no retries hidden behind it.
    http_session = session or http.make_session(retries=None, ca_bundle=verify if isinstance(verify, str) else None,
                                                user_agent=http.user_agent("admin"))
    try:
        answer = http_session.get(http.api_url(server, SUMMARY_PATH), params={**query, "format": "json"},
                                  timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    except (requests.RequestException, OSError) as exc:
        sentence = describe_error(exc, server)
        if isinstance(exc, requests.exceptions.SSLError):
            sentence += "; give its authority with --ca-bundle"
        raise ServerRefused(sentence) from None
    finally:
        if session is None:
            http_session.close()
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200 or not isinstance(body, dict) or body.get("ok") is not True:
        if isinstance(body, dict) and body.get("error"):
            raise ServerRefused(f"the server refused the report: {body['error']}")
        raise ServerRefused(describe_error(ForeignAnswer(f"HTTP {answer.status_code} without a report"), server))
    return report_from_dict(body["report"])
