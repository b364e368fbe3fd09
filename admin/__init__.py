"""The administrator's client: ``kiosk-admin pull | report`` (a client of the server's admin API).

For example::

    from admin import pull_ratings
    pull_ratings("ratings.db", "https://hailong.example.vn", token)
    # → PullSummary(path=PosixPath('ratings.db'), added=2939, total=2939, last_cursor=2939, complete=True)

:mod:`admin.client` pages ``GET /api/v1/ratings``; :mod:`admin.pulled`
holds the files a pull appends to (``.db``, ``.csv``, ``.xlsx``, ``.jsonl``).
"""

from .client import RATING_FIELDS, TOKEN_ENV, PullError, TokenRefused, make_session
from .pulling import PullInterrupted, PullSummary, pull_ratings

__all__ = ["pull_ratings", "PullSummary", "PullError", "PullInterrupted", "TokenRefused", "make_session",
           "RATING_FIELDS", "TOKEN_ENV"]
