"""The admin side of ``GET /api/v1/ratings``: pages of ratings after a cursor.

    session = make_session()
    for page in ratings_pages(session, "https://hailong.example.vn", token, after=0):
        ...   # page.ratings: dicts with RATING_FIELDS; page.last_cursor

One page at a time is held, never the whole pull. Refused connections,
resets, 5xx and 429 are retried by the mounted policy (429 and 503 wait out
``Retry-After``); what is left after that is a :class:`PullError` with one
plain sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import requests
from urllib3.util.retry import Retry

from sync import http
from sync.errors import SyncError
from sync.http import ForeignAnswer, describe_error, describe_status

#: The environment variable ``kiosk-admin`` reads the admin token from.
TOKEN_ENV = "HAILONG_ADMIN_TOKEN"

#: The columns of a pulled rating, in the server's order (a copy of
#: ``server.models.RATING_OUTPUT_FIELDS``: sync/ does not import the server; a test keeps them equal).
RATING_FIELDS = ("cursor", "id", "terminal_id", "site", "counter", "rating", "reason", "reason_outcome",
                 "source", "filtered", "created_at", "corrected_at", "time_quality", "received_at",
                 "boot_id", "monotonic_ns", "clock_synced")
#: Fields the server adds for the roles that may see them (officers, dossier codes; issue 12;
#: ``server.models.OFFICER_OUTPUT_FIELDS`` and ``DOSSIER_OUTPUT_FIELDS``).
OPTIONAL_FIELDS = ("officer_code", "officer_name", "dossier")
#: The columns of a pulled file: every field, the optional ones empty when the token's role may not see them.
PULLED_FIELDS = RATING_FIELDS + OPTIONAL_FIELDS
#: Columns holding integers (the rest are text or NULL).
INTEGER_FIELDS = ("cursor", "filtered", "monotonic_ns", "clock_synced")

#: Ratings asked for per page; the server caps it (``ratings_page_max``, 10,000 by default).
PAGE_SIZE = 10_000
#: (connect, read) seconds for every request; a 10,000-rating page is a few MB (longer than sync.http.TIMEOUT).
TIMEOUT = (10.0, 120.0)


class PullError(SyncError, RuntimeError):
    """The pull cannot go on; the message is one sentence for the administrator."""


class TokenRefused(PullError):
    """The server answered 401 or 403 to the admin token."""


@dataclass
class Page:
    ratings: list[dict]
    #: The cursor of the last rating in the page (``after`` when the page is empty).
    last_cursor: int
    #: True when the server said this page was the last (``next`` is null).
    last: bool


def default_retry(*, backoff_factor: float = 0.5, total: int = 5) -> Retry:
    """Retries for an idempotent GET: refused, reset, 5xx and 429 (waiting out Retry-After).

    Waits 0, 1, 2, 4, 8 s between tries by default (about 15 s before giving up on a dead
    network); a refused TLS certificate is not retried.
    """
    return Retry(total=total, connect=total, read=total, status=total, other=0, backoff_factor=backoff_factor,
                 backoff_max=10, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET",),
                 respect_retry_after_header=True, raise_on_status=False)


def make_session(*, ca_bundle: str | None = None, retry: Retry | None = None) -> requests.Session:
    """The administrator's session: ``retry`` (else :func:`default_retry`) mounted; TLS verified (``ca_bundle``)."""
    return http.make_session(retries=retry or default_retry(), ca_bundle=ca_bundle, user_agent=http.user_agent("admin"))


def _with_advice(sentence: str, exc: BaseException) -> str:
    """What the administrator can do, after the sentence for a refused certificate."""
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{sentence}; pass --ca-bundle if it is signed by your own authority"
    return sentence


def ratings_pages(session: requests.Session, server_url: str, token: str, *, after: int = 0,
                  page_size: int = PAGE_SIZE, timeout=TIMEOUT) -> Iterator[Page]:
    """Pages of ratings with a cursor above ``after``, up to the last one the server holds now.

    ``server_url`` is already checked (:func:`sync.addresses.check_server_url`).
    """
    while True:
        page = fetch_page(session, server_url, token, after=after, page_size=page_size, timeout=timeout)
        yield page
        if page.last:
            return
        after = page.last_cursor


def fetch_page(session: requests.Session, server_url: str, token: str, *, after: int, page_size: int = PAGE_SIZE,
               timeout=TIMEOUT) -> Page:
    """One page after ``after``; raises :class:`PullError` (or :class:`TokenRefused`) with a plain sentence."""
    server = f"the server at {server_url}"
    try:
        response = session.get(http.api_url(server_url, "ratings"), params={"after": after, "limit": page_size},
                               headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                               timeout=timeout)
    except (requests.RequestException, OSError) as exc:
        raise PullError(_with_advice(describe_error(exc, server), exc)) from None
    status = response.status_code
    if status in (401, 403):
        raise TokenRefused(f"the server refused the admin token ({status}): it is wrong or has been revoked")
    if status == 429 or status >= 500:
        raise PullError(f"{describe_status(response, server)}, even after retries")
    if status != 200:
        raise PullError(describe_status(response, server))
    try:
        body = response.json()
        ratings, next_cursor = body["ratings"], body["next"]
        ok = body["ok"] is True and isinstance(ratings, list)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok or (ratings and not set(RATING_FIELDS) <= set(ratings[0]) <= set(RATING_FIELDS + OPTIONAL_FIELDS)):
        raise PullError(describe_error(ForeignAnswer("not a Hài Lòng ratings page: a captive portal, a proxy, "
                                                     "or a server of another version?"), server))
    last_cursor = ratings[-1]["cursor"] if ratings else after
    if ratings and ratings[0]["cursor"] <= after:
        raise PullError(f"the server sent cursor {ratings[0]['cursor']}, not after {after} as asked")
    return Page(ratings, last_cursor, next_cursor is None)

