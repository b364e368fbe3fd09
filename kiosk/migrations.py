"""Named, ordered schema migrations of the local store (sqlite-utils Migrations).

Add new steps at the end; never edit or reorder an applied one.
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("kiosk")


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
