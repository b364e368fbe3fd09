"""``.db``: an SQLite file made with sqlite-utils, for ``sqlite-utils``, Datasette and ``kiosk-admin report``.

Two plain tables: ``ratings`` (the server's columns, ``cursor`` the primary
key, an index on ``corrected_at`` and the report indexes, made when a pull
ends, for reports by period) and ``pull_state``
(one row: ``server``, ``last_cursor``, ``pulled_at``). A page and its cursor
are written in one transaction, so a pull stopped anywhere, even by kill -9,
leaves whole pages and the cursor that matches them.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import sqlite_utils

from reports.sources import add_report_indexes
from ..client import INTEGER_FIELDS, OPTIONAL_FIELDS, PULLED_FIELDS, RATING_FIELDS, PullError
from .base import PulledFile

RATINGS = "ratings"
PULL_STATE = "pull_state"


class SqlitePulledFile(PulledFile):
    def __init__(self, path, server_url: str):
        super().__init__(path, server_url)
        self.db = sqlite_utils.Database(path)
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise PullError(f"{path.name} is not a pulled ratings file ({exc})") from None
        except BaseException:
            self.db.close()
            raise

    def _prepare(self) -> None:
        db = self.db
        ratings, state = db[RATINGS], db[PULL_STATE]
        if db.table_names() and not state.exists():
            raise PullError(f"{self.path.name} is a database that kiosk-admin pull did not make "
                            f"(no table {PULL_STATE}): pull into a new file")
        if ratings.exists():
            missing = [name for name in RATING_FIELDS if name not in ratings.columns_dict]
            if missing or ratings.pks != ["cursor"]:
                raise PullError(f"{self.path.name} has a table {RATINGS} that is not one of pulled ratings")
        with db.atomic():
            ratings.create({name: int if name in INTEGER_FIELDS else str for name in PULLED_FIELDS},
                           pk="cursor", not_null={"id"}, if_not_exists=True)
            for name in OPTIONAL_FIELDS:  # a file pulled before officers and dossiers (issue 12)
                if name not in ratings.columns_dict:
                    ratings.add_column(name, str)
            ratings.create_index(["corrected_at"], if_not_exists=True)
            state.create({"server": str, "last_cursor": int, "pulled_at": str}, pk="server", if_not_exists=True)
        rows = list(state.rows)
        if len(rows) > 1:
            raise PullError(f"{self.path.name} holds ratings from several servers; pull into another file")
        if rows:
            self.check_server(rows[0]["server"])
            self.last_cursor = rows[0]["last_cursor"] or 0
        self.total = ratings.count
        self._insert = (f"INSERT OR IGNORE INTO {RATINGS} ({', '.join(PULLED_FIELDS)}) "
                        f"VALUES ({', '.join('?' * len(PULLED_FIELDS))})")

    def append(self, ratings: list[dict], last_cursor: int) -> None:
        ratings = self.new_ratings(ratings)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.db.atomic():
            before = self.db.conn.total_changes
            # executemany rather than insert_all: half the time on a million ratings, same table.
            self.db.conn.executemany(self._insert, [tuple(r.get(name) for name in PULLED_FIELDS) for r in ratings])
            added = self.db.conn.total_changes - before
            self.db[PULL_STATE].upsert({"server": self.server_url, "last_cursor": last_cursor, "pulled_at": now},
                                       pk="server")
        self.added += added
        self.total += added
        self.last_cursor = last_cursor

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None and self.added:
                # The indexes kiosk-admin report reads (a few seconds per million, once; then kept up to
                # date by each pull), so the first report on a fresh file is as quick as the next.
                add_report_indexes(self.db.conn)
        finally:
            super().__exit__(*exc)

    def close(self) -> None:
        self.db.close()
