"""The same report, fetched from the server's API (``GET /api/v1/reports/summary``)."""

from __future__ import annotations

import requests

from .errors import ReportError
from .figures import Report

SUMMARY_PATH = "/api/v1/reports/summary"


class ServerRefused(ReportError, ConnectionError):
    """The server could not be reached, or answered with an error."""


def fetch_report(server: str, token: str, params: dict, *, session: requests.Session | None = None,
                 timeout_s: float = 120, verify: bool | str = True) -> Report:
    """The report the server at ``server`` builds for ``params`` (the API's query parameters).

        >>> fetch_report("https://hl.example.vn", token, {"period": "quarter", "on": "2026-11-25"})  # doctest: +SKIP
    """
    url = server.rstrip("/") + SUMMARY_PATH
    query = {key: value for key, value in params.items() if value is not None}
    http = session or requests.Session()
    try:
        # verify explicitly: requests lets $REQUESTS_CA_BUNDLE override a session's own.
        answer = http.get(url, params={**query, "format": "json"}, timeout=timeout_s, verify=verify,
                          headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    except requests.exceptions.SSLError:
        raise ServerRefused(f"the TLS certificate of {server} was refused (give its authority with --ca-bundle)") \
            from None
    except requests.RequestException as exc:
        raise ServerRefused(f"cannot reach {server}: {type(exc).__name__}") from None
    finally:
        if session is None:
            http.close()
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200 or not isinstance(body, dict) or body.get("ok") is not True:
        message = body.get("error") if isinstance(body, dict) and body.get("error") else \
            f"HTTP {answer.status_code} without a report (is {server} a Hài Lòng server?)"
        raise ServerRefused(f"the server refused the report: {message}")
    return Report.from_dict(body["report"])
