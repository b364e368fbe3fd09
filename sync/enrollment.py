"""Enrolment: a one-time code from the district buys a terminal id and a device token."""

from __future__ import annotations

import requests
from pydantic import ValidationError

from .addresses import check_server_url
from .errors import EnrollmentError, response_message, shorten
from .protocol import API_PREFIX, Enrollment, EnrollmentReceipt
from .uploader import TIMEOUT


def enroll(server_url: str, code: str, *, session: requests.Session, app_version: str,
           allow_http: bool = False) -> EnrollmentReceipt:
    """Ask the server for an id and a token; raises :class:`EnrollmentError` in words."""
    server_url = check_server_url(server_url, allow_http=allow_http)
    body = Enrollment(code=code.strip(), app_version=app_version).model_dump_json()
    try:
        # verify= explicitly: requests lets $REQUESTS_CA_BUNDLE override session.verify.
        response = session.post(f"{server_url}{API_PREFIX}/enroll", data=body, timeout=TIMEOUT,
                                verify=session.verify, headers={"Content-Type": "application/json"})
    except requests.exceptions.SSLError as exc:
        raise EnrollmentError(f"the server's TLS certificate was refused ({shorten(exc)}); "
                              "check the address, or set [server] ca_bundle for a private CA") from None
    except requests.RequestException as exc:
        raise EnrollmentError(f"cannot reach {server_url} ({shorten(exc)}); check the network and the address") from None
    if response.status_code not in (200, 201):
        raise EnrollmentError(f"the server refused the code ({response.status_code}: {response_message(response)})")
    try:
        return EnrollmentReceipt.model_validate_json(response.content)
    except ValidationError:
        raise EnrollmentError(f"{server_url} did not answer like a Hài Lòng server; check the address") from None
