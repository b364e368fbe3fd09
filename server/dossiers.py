"""Dossiers (hồ sơ) on the server: a rating counted once per dossier, the invitations, and the retention purge.

A citizen rates how a dossier was handled by scanning its code at the terminal; the next counted rating is
linked to it. So that nobody can steer a dossier's result by rating it again (at the same terminal or at
another one), the server counts one rating per dossier: a rating linked to a dossier for which the server
already holds a counted rating is stored with ``dossier_repeat`` 1, and every report counts it as filtered.
A repeat the terminal caught itself (the same receipt scanned again there) arrives filtered with its dossier
(the terminal links a dossier to a filtered press for that cause only) and is marked ``dossier_repeat`` 1
too, so the reports' count of second ratings holds both kinds.
The terminal's own ``filtered`` is kept as sent (a resend stays identical). The rule is decided under the
ratings' write lock (ingest.py), so two batches naming one dossier are judged one after the other.

Dossier codes are kept no longer than ``dossier_retention_days``: :func:`purge_dossiers` then blanks them in
ratings and invitations (the rating and the invitation stay; ``dossier_repeat`` too, so no count changes).

    >>> rows = [("a", "HS-000001", 0, 0), ("b", "HS-000001", 0, 0), ("c", "HS-000001", 1, 0), ("d", None, 0, 0)]
    >>> [row[3] for row in repeats_in_order(rows, (1, 2, 3), already_counted=set())]
    [0, 1, 1, 0]
    >>> [row[3] for row in repeats_in_order(rows, (1, 2, 3), already_counted={"HS-000001"})]
    [1, 1, 1, 0]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sync.protocol import Invitation

from .accounts import Terminal
from .audit import Actor, record
from .background import Every
from .db import write_transaction
from .schema import dossier_invitations, ratings
from .timekeeping import NS_PER_S, iso_from_ns

log = logging.getLogger("hailong.server.dossiers")

#: The server keeps a dossier code this many days by default (``dossier_retention_days``).
DEFAULT_RETENTION_DAYS = 365


def repeats_in_order(rows: Sequence[tuple], at: tuple[int, int, int], *, already_counted: set[str]) -> list[tuple]:
    """``rows`` with ``dossier_repeat`` set (position ``at[2]``) on each rating that the terminal counted
    (``filtered`` 0 at ``at[1]``) for a dossier (at ``at[0]``) already counted: in ``already_counted`` or by
    an earlier row of the batch; and on each rating the terminal filtered that names a dossier (the terminal's
    own repeat). A rating the terminal filtered is never counted, so it counts no dossier."""
    at_dossier, at_filtered, at_repeat = at
    counted = set(already_counted)
    marked = []
    for row in rows:
        dossier = row[at_dossier]
        if dossier is not None:
            if row[at_filtered] or dossier in counted:
                row = row[:at_repeat] + (1,) + row[at_repeat + 1:]
            else:
                counted.add(dossier)
        marked.append(row)
    return marked


def counted_dossiers(conn: Connection, dossiers: set[str]) -> set[str]:
    """Which of ``dossiers`` the server already holds a counted rating for (from any terminal)."""
    found = conn.execute(select(ratings.c.dossier).distinct().where(
        ratings.c.dossier.in_(sorted(dossiers)), ratings.c.filtered == 0, ratings.c.dossier_repeat == 0))
    return set(found.scalars())


def mark_dossier_repeats(conn: Connection, rows: list[tuple], at: tuple[int, int, int]) -> list[tuple]:
    """The batch's rows with the count-once rule applied (``rows`` itself when no rating names a dossier).

    A resent rating finds itself among the counted ones and is marked, but it is not inserted again (its
    stored row stays as it was); the rule reads only what is stored, never the marks it sets in this batch
    before the insert, which the batch's order decides.
    """
    at_dossier, at_filtered, _ = at
    if all(row[at_dossier] is None for row in rows):
        return rows
    dossiers = {row[at_dossier] for row in rows if row[at_dossier] is not None and not row[at_filtered]}
    return repeats_in_order(rows, at, already_counted=counted_dossiers(conn, dossiers) if dossiers else set())


def store_invitations(conn: Connection, terminal: Terminal, invitations: list[Invitation], *,
                      received_at: str) -> None:
    """Keep the batch's closed invitations, each once by its id (a resend changes nothing)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [{"id": str(invitation.id), "terminal_id": terminal.id, "unit_id": terminal.unit_id,
             "officer_code": invitation.officer, "dossier": invitation.dossier,
             "created_at": invitation.created_at, "closed_at": invitation.closed_at,
             "outcome": invitation.outcome, "rating_id": None if invitation.rating_id is None else str(invitation.rating_id),
             "received_at": received_at} for invitation in invitations]
    conn.execute(insert(dossier_invitations).on_conflict_do_nothing(index_elements=["id"]), rows)


def retention_cutoff(now_ns: int, days: int) -> str:
    """The ISO time before which dossier codes are blanked.

        >>> retention_cutoff(86_400 * 10**9 * 400, 365)
        '1970-02-05T00:00:00.000Z'
    """
    return iso_from_ns(now_ns - days * 86_400 * NS_PER_S)


def dossiers_due(conn: Connection, cutoff: str) -> bool:
    """Whether a rating or an invitation older than ``cutoff`` still holds its dossier code."""
    for table, time_column in ((ratings, ratings.c.corrected_at), (dossier_invitations, dossier_invitations.c.created_at)):
        if conn.execute(select(table.c.id).where(table.c.dossier.is_not(None), time_column < cutoff).limit(1)).first():
            return True
    return False


def purge_dossiers(conn: Connection, *, now_ns: int, days: int) -> dict:
    """Blank the dossier codes older than ``days`` (by the rating's corrected time, the invitation's
    creation): ``{"ratings": n, "invitations": m, "cutoff": time}``. Run inside ``write_transaction``."""
    cutoff = retention_cutoff(now_ns, days)
    blanked_ratings = conn.execute(update(ratings).where(
        ratings.c.dossier.is_not(None), ratings.c.corrected_at < cutoff).values(dossier=None)).rowcount
    blanked_invitations = conn.execute(update(dossier_invitations).where(
        dossier_invitations.c.dossier.is_not(None), dossier_invitations.c.created_at < cutoff)
        .values(dossier=None)).rowcount
    return {"ratings": blanked_ratings, "invitations": blanked_invitations, "cutoff": cutoff}


#: How often the server's background task blanks the dossier codes past their retention.
PURGE_INTERVAL_S = 3600
#: Who the audit trail says purged, when the background task did.
RETENTION_ACTOR = "kiosk-server (dossier retention)"


class DossierRetention:
    """Blanks the dossier codes past ``days`` every :data:`PURGE_INTERVAL_S` in the background (started with the
    app), and on demand (:meth:`purge`, also what ``kiosk-server purge-dossiers`` runs). Each purge that blanked
    something is one ``dossier_purge`` entry in the audit trail."""

    def __init__(self, engine, days: int, clock):
        self.engine = engine
        self.days = days
        self.clock = clock
        self._loop = Every("dossier-retention", self.purge, interval_s=PURGE_INTERVAL_S,
                           failure="blanking the dossier codes past their retention failed; trying again in an hour")

    def purge(self, *, actor: Actor | None = None) -> dict:
        now_ns = self.clock()
        cutoff = retention_cutoff(now_ns, self.days)
        with self.engine.connect() as conn:  # a read first: most hours there is nothing to blank, and no lock to take
            if not dossiers_due(conn, cutoff):
                return {"ratings": 0, "invitations": 0, "cutoff": cutoff}
        with self.engine.connect() as conn, write_transaction(conn):
            done = purge_dossiers(conn, now_ns=now_ns, days=self.days)
            blanked = done["ratings"] + done["invitations"]
            if blanked:
                record(conn, actor=actor or Actor(RETENTION_ACTOR, role="server"), action="dossier_purge",
                       subject="dossiers", rows=blanked, details={**done, "days": self.days}, now_ns=now_ns)
        return done

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
