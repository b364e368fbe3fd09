"""Named, ordered schema migrations of the local store (sqlite-utils Migrations).

Add new steps at the end; never edit or reorder an applied one.

Updates and roll-back (issue 13): a version on trial may be rolled back to the previous one, which must
then read the database it left. So a version on trial runs only the migrations marked :func:`additive`
(new tables, new nullable columns, new indexes: what older code ignores, since it names its columns in every
query and insert); the first migration that is not additive, and every one after it, waits until the
version is committed healthy (:func:`apply`, called again at the commit). An older version opening a
database with newer additive migrations sees them applied and runs as before (tests/test_update_schema.py).
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("kiosk")

#: Names of the migrations that only add what older versions ignore (safe to run on trial).
ADDITIVE: set[str] = set()
#: True while this version is on trial (set by ``kiosk run`` from the launcher's word): non-additive
#: migrations wait for the commit.
hold_non_additive = False


def additive(func):
    """Mark a migration as additive (put it under ``@migrations()``): it may run while a version is on trial.

    Only: CREATE TABLE, ADD COLUMN that is NULL or has a DEFAULT, CREATE INDEX; never a change of what an
    older version reads or writes (no UPDATE of existing rows, no DROP, no NOT NULL without a default).
    """
    ADDITIVE.add(func.__name__)
    return func


def held(db, *, on_trial: bool | None = None) -> list[str]:
    """The pending migrations that wait for the commit (empty when nothing waits)."""
    if not (hold_non_additive if on_trial is None else on_trial):
        return []
    names = [m.name for m in migrations.pending(db)]
    for i, name in enumerate(names):
        if name not in ADDITIVE:
            return names[i:]
    return []


def apply(db, *, on_trial: bool | None = None) -> list[str]:
    """Apply the pending migrations this version may run now; the names of those held for the commit."""
    waiting = held(db, on_trial=on_trial)
    if waiting:
        migrations.apply(db, stop_before=waiting[0])
    else:
        migrations.apply(db)
    return waiting

#: The shortest time the screen is away from home after a counted press (the config's minimum thanks_s).
SHORTEST_BUSY_NS = 500_000_000


@migrations()
def m001_create_ratings(db):
    db["ratings"].create(
        {
            "id": str,
            "terminal_id": str,
            "rating": str,
            "reason": str,
            "reason_outcome": str,
            "source": str,
            "created_at": str,
            "boot_id": str,
            "monotonic_ns": int,
            "clock_synced": int,
            "filtered": int,
            "sealed": int,
            "synced_at": str,
        },
        pk="id",
        not_null={"terminal_id", "rating", "source", "created_at", "boot_id",
                  "monotonic_ns", "clock_synced", "filtered", "sealed"},
    )
    # The uploader reads "sealed and not yet synced" in order; status counts by day.
    db["ratings"].create_index(["sealed", "synced_at", "created_at"], index_name="idx_ratings_pending")
    db["ratings"].create_index(["created_at"], index_name="idx_ratings_created_at")


@migrations()
def m002_create_kiosk_meta(db):
    db["kiosk_meta"].create({"key": str, "value": str}, pk="key")


@migrations()
def m003_drop_pending_index(db):
    # The uploader keeps its own partial index of unsynced rows (sync.local);
    # a full index over every rating cost ~39 bytes per rating for nothing.
    db.execute("DROP INDEX IF EXISTS idx_ratings_pending")


@migrations()
def m004_add_filter_cause(db):
    # Why a filtered press was not counted (kiosk.store.FILTER_CAUSES); it stays on the terminal.
    db.execute("ALTER TABLE ratings ADD COLUMN filter_cause TEXT")
    # Older rows: only one cause is certain. Every counted press leaves home for at least the shortest
    # thank-you the config allows (thanks_s >= 0.5 s; the reason question lasts >= 1 s, and a reason
    # given ends on a thank-you), so a filtered press less than 0.5 s after a counted one on the same boot
    # came while the screen was busy. The rest cannot be told apart (repeat or busy depends on the config
    # of the day; presses during service were counted then) and stay NULL.
    db.execute(
        f"""
        UPDATE ratings SET filter_cause = 'busy'
        WHERE id IN (
            SELECT id FROM (
                SELECT id, filtered, monotonic_ns,
                       max(CASE WHEN filtered = 0 THEN monotonic_ns END)
                           OVER (PARTITION BY boot_id ORDER BY monotonic_ns ROWS UNBOUNDED PRECEDING)
                           AS last_counted_ns
                FROM ratings
            )
            WHERE filtered = 1 AND monotonic_ns - last_counted_ns < {SHORTEST_BUSY_NS}
        )
        """
    )


@migrations()
def m005_officers_and_dossiers(db):
    # Who was signed in at the press, and the dossier the press was linked to (NULL: none).
    db.execute("ALTER TABLE ratings ADD COLUMN officer TEXT")
    db.execute("ALTER TABLE ratings ADD COLUMN dossier TEXT")
    # Count-once per dossier asks "has a counted rating been linked to this dossier?" at each invited press:
    # a partial index holds the linked rows only, however long the history.
    db.execute("CREATE INDEX idx_ratings_dossier ON ratings (dossier) WHERE dossier IS NOT NULL")
    db["shifts"].create(
        {
            "id": str,
            "officer": str,
            "signed_in_at": str,
            "signed_out_at": str,
            "sign_in_how": str,
            "sign_out_how": str,
            "boot_id": str,
            "monotonic_ns": int,
            "synced_at": str,
        },
        pk="id",
        not_null={"officer", "signed_in_at", "sign_in_how", "boot_id", "monotonic_ns"},
    )
    db["invitations"].create(
        {
            "id": str,
            "dossier": str,
            "officer": str,
            "created_at": str,
            "closed_at": str,
            "outcome": str,
            "rating_id": str,
            "synced_at": str,
        },
        pk="id",
        not_null={"created_at"},
    )
    # The uploader asks for closed, unsynced rows at every batch: partial indexes keep that small however
    # long the history (as sync.local's idx_ratings_unsynced does for ratings).
    db.execute("CREATE INDEX idx_shifts_unsynced ON shifts (signed_in_at) WHERE synced_at IS NULL")
    db.execute("CREATE INDEX idx_invitations_unsynced ON invitations (created_at) WHERE synced_at IS NULL")


@migrations()
def m006_officers_cache(db):
    # The officers list the server sends this terminal (GET /api/v1/terminal/officers), replaced whole.
    db["officers"].create(
        {"code": str, "name": str, "pin_hash": str, "counters": str, "photo": bytes, "version": str},
        pk="code",
        not_null={"name", "counters", "version"},
    )
    db.execute("INSERT OR IGNORE INTO kiosk_meta (key, value) VALUES ('officers_version', '')")


@migrations()
def m007_remote_settings(db):
    # The remote settings (issue 13): one row for the set applied (version, the values as JSON, when) and one for
    # the last set refused (version, why, when); see sync/settings_state.py. Additive: an older version ignores it.
    db["remote_settings"].create(
        {"kind": str, "version": str, "settings": str, "at": str, "why": str},
        pk="kind",
        not_null={"version", "at"},
    )
