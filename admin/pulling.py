"""Pull every rating not yet held from the server into a pulled file, page by page.

    summary = pull_ratings("ratings.db", "https://hailong.example.vn", token)
    summary.added, summary.total, summary.last_cursor

Only one page is in memory at a time. Each page is saved with its cursor
before the next is asked for, so a pull stopped anywhere continues from the
last saved page next time, and no rating is written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from .client import PAGE_SIZE, PullError, make_session, ratings_pages
from .pulled import open_pulled_file


@dataclass
class PullSummary:
    path: Path
    #: Ratings this pull added.
    added: int
    #: Ratings in the file now.
    total: int
    #: The cursor of the last rating in the file (the next pull asks for what comes after it).
    last_cursor: int
    #: False when the pull stopped early (an error or Ctrl-C); what was added is kept.
    complete: bool = True

    def line(self) -> str:
        done = "Pulled" if self.complete else "Saved"
        return (f"{done} {self.added:,} new rating{'' if self.added == 1 else 's'} into {self.path.name} "
                f"({self.total:,} in the file, last cursor {self.last_cursor}).")


class PullInterrupted(PullError):
    """The pull stopped early; ``summary`` says what was saved."""

    def __init__(self, message: str, summary: PullSummary, *, cancelled: bool = False):
        super().__init__(message)
        self.summary = summary
        #: True for Ctrl-C, False for an error.
        self.cancelled = cancelled


def pull_ratings(path, server_url: str, token: str, *, session: requests.Session | None = None,
                 page_size: int = PAGE_SIZE, when_page: Callable[[int], None] | None = None) -> PullSummary:
    """Append to ``path`` every rating the server holds after the file's last cursor.

    ``server_url`` must already be checked (:func:`sync.addresses.check_server_url`).
    ``when_page(n)`` is called after each page is saved with the number of ratings it added.
    Raises :class:`PullError` (nothing added) or :class:`PullInterrupted` (some pages saved) with a
    plain sentence; Ctrl-C becomes :class:`PullInterrupted` with ``cancelled`` set, once the file is saved.
    """
    if session is None:
        with make_session() as session:
            return pull_ratings(path, server_url, token, session=session, page_size=page_size, when_page=when_page)
    with open_pulled_file(path, server_url) as pulled:
        try:
            for page in ratings_pages(session, server_url, token, after=pulled.last_cursor, page_size=page_size):
                before = pulled.added
                if page.ratings:
                    pulled.append(page.ratings, page.last_cursor)
                if when_page is not None:
                    when_page(pulled.added - before)
        except PullError as exc:
            if pulled.added == 0:
                raise
            raise PullInterrupted(str(exc), _summary(pulled, complete=False)) from None
        except KeyboardInterrupt:
            raise PullInterrupted("interrupted", _summary(pulled, complete=False), cancelled=True) from None
        summary = _summary(pulled, complete=True)
    return summary


def _summary(pulled, *, complete: bool) -> PullSummary:
    return PullSummary(pulled.path, pulled.added, pulled.total, pulled.last_cursor, complete)
