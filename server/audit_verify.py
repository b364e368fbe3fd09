"""Checking the audit trail's chain (``kiosk-server audit verify``), and what the check cannot see.

Walks the entries in id order, in pages, and stops at the first that is
wrong, saying how:

- ``deleted``: ids jump (entries 7..9 are missing), or the first id is not 1;
- ``reordered``: an entry is chained to another entry than the one before it (rows were moved);
- ``edited``: an entry's fields no longer give its hash;
- ``replaced``: an entry is intact but the one before it is not the one it was chained to (that one was
  rewritten with a recomputed hash, or entries were deleted and the rest renumbered).

The chain alone cannot show that its *last* entries were deleted: what
remains is a shorter, intact chain. Only a head recorded elsewhere shows it:
verify prints the head (its id and hash) to be written down, the server logs
every entry's hash (``hailong.audit``), and ``anchor`` checks an old head
against the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from .audit import GENESIS, entry_hash
from .schema import audit_log

PAGE = 5000


@dataclass(frozen=True)
class Break:
    """The first entry where the chain is wrong, how, and a sentence for the operator."""

    entry_id: int
    kind: str  # deleted | reordered | edited | replaced
    message: str


@dataclass(frozen=True)
class Verdict:
    count: int                 # entries checked (up to the break)
    head_id: int               # the last entry's id (0: none)
    head_hash: str             # its hash (GENESIS: none)
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(conn: Connection, *, anchor: tuple[int, str] | None = None) -> Verdict:
    """Check every entry's id, link and hash; with ``anchor`` (id, hash) written down earlier, also that the
    entry is still there with that hash (so the trail was not cut short or rewritten up to it)."""
    prev_id, prev_hash, count = 0, GENESIS, 0
    anchor_seen = False
    while True:
        rows = conn.execute(select(audit_log).where(audit_log.c.id > prev_id).order_by(audit_log.c.id)
                            .limit(PAGE)).mappings().all()
        for row in rows:
            broken = _check(conn, row, prev_id, prev_hash)
            if broken is not None:
                return Verdict(count, prev_id, prev_hash, broken)
            if anchor is not None and row["id"] == anchor[0]:
                anchor_seen = True
                if row["hash"] != anchor[1]:
                    return Verdict(count, prev_id, prev_hash, Break(
                        row["id"], "replaced", f"entry {row['id']} is not the one written down (its hash is "
                                               f"{row['hash'][:16]}…, not {anchor[1][:16]}…): the chain was "
                                               "rewritten up to it"))
            prev_id, prev_hash, count = row["id"], row["hash"], count + 1
        if len(rows) < PAGE:
            break
    if anchor is not None and not anchor_seen:
        return Verdict(count, prev_id, prev_hash, Break(
            prev_id + 1, "deleted", f"the trail ends at entry {prev_id}, but entry {anchor[0]} was written down: "
                                    f"the last {anchor[0] - prev_id} entries or more were deleted"))
    return Verdict(count, prev_id, prev_hash, None)


def _check(conn: Connection, row, prev_id: int, prev_hash: str) -> Break | None:
    entry_id = row["id"]
    if entry_id != prev_id + 1:
        missing = f"entry {prev_id + 1}" if entry_id == prev_id + 2 else f"entries {prev_id + 1}..{entry_id - 1}"
        return Break(entry_id, "deleted", f"{missing} {'is' if entry_id == prev_id + 2 else 'are'} missing "
                                          f"before entry {entry_id}: deleted")
    self_intact = entry_hash(row) == row["hash"]
    if row["prev_hash"] != prev_hash:
        chained_to = conn.execute(select(audit_log.c.id).where(audit_log.c.hash == row["prev_hash"])
                                  .limit(1)).scalar()
        if chained_to is not None:
            return Break(entry_id, "reordered", f"entry {entry_id} was written after the entry now numbered "
                                                f"{chained_to}, not after entry {prev_id}: entries were moved")
        if self_intact:
            return Break(entry_id, "replaced", f"entry {entry_id} is intact but was chained to another entry "
                                               f"than the present entry {prev_id}: that one was rewritten with "
                                               "a recomputed hash, or entries were deleted and renumbered")
        return Break(entry_id, "edited", f"entry {entry_id} was edited: neither its link to entry {prev_id} "
                                         "nor its own hash match its fields")
    if not self_intact:
        return Break(entry_id, "edited", f"entry {entry_id} was edited: its fields no longer give its hash "
                                         f"({row['hash'][:16]}…)")
    return None


def parse_anchor(value: str) -> tuple[int, str]:
    """``ID:HASH`` as verify prints it, e.g. ``120:9f86d0…`` (the whole 64-character hash).

        >>> parse_anchor("3:" + "a" * 64)[0]
        3
    """
    entry_id, _, digest = value.strip().partition(":")
    digest = digest.strip().lower()
    if not entry_id.isdigit() or int(entry_id) < 1 or len(digest) != 64 or any(c not in "0123456789abcdef"
                                                                                for c in digest):
        raise ValueError(f"{value!r} is not ID:HASH as `kiosk-server audit verify` prints it "
                         "(the entry's number, a colon, its 64-character hash)")
    return int(entry_id), digest
