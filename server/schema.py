"""The central database, as SQLAlchemy Core tables (the same on SQLite and PostgreSQL).

Migrations in ``server/migrations/versions`` create exactly this; a test
compares the two. Times are ISO 8601 UTC text with milliseconds (the
protocol's own format), so they sort and compare as text on both backends
and a rating's ``created_at`` is kept byte for byte as the terminal sent it.
Only SHA-256 hashes of tokens and enrolment codes are stored.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData,
                        PrimaryKeyConstraint, SmallInteger, String, Table, Text, UniqueConstraint, false)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

#: An auto-incrementing 64-bit key: BIGINT identity on PostgreSQL, the rowid on SQLite.
CursorKey = BigInteger().with_variant(Integer(), "sqlite")

ISO_TIME = String(24)  # 2026-11-25T09:30:12.345Z

#: The organisation: province → commune-level unit (xã, phường, đặc khu) → one-stop office → counter.
#: ``code`` is the official code where one exists (administrative unit codes); a renamed node keeps its id,
#: so the ratings it holds stay its own (see org_tree.py).
nodes = Table(
    "nodes", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),        # province | unit | office | counter
    Column("code", String(64), unique=True),
    Column("name", Text, nullable=False),
    Column("parent_id", CursorKey, ForeignKey("nodes.id")),  # NULL only for a province
    Column("created_at", ISO_TIME, nullable=False),
    Column("updated_at", ISO_TIME, nullable=False),
    Index(None, "parent_id"),
)

#: Where each flat site and counter of a server from before the tree went (migration 0007), kept for
#: the record and for enrolment codes that still name a site.
legacy_places = Table(
    "legacy_places", metadata,
    Column("site", Text, nullable=False),
    Column("counter", Text, nullable=False),          # '' for none
    Column("node_id", CursorKey, ForeignKey("nodes.id"), nullable=False),
    PrimaryKeyConstraint("site", "counter"),
)

terminals = Table(
    "terminals", metadata,
    Column("id", String(64), primary_key=True),
    # Where it stands, by name (the unit's and the counter's, as ratings copy them)…
    Column("site", Text, nullable=False),
    Column("counter", Text),
    # …and in the tree: its node (a counter, or an office) and that node's lineage, kept together by
    # org_tree.place_terminals, so ingest copies the lineage into each rating without a lookup.
    Column("node_id", CursorKey, ForeignKey("nodes.id")),
    Column("province_id", CursorKey),
    Column("unit_id", CursorKey),
    Column("office_id", CursorKey),
    Column("counter_id", CursorKey),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("enrolled_at", ISO_TIME, nullable=False),
    Column("revoked_at", ISO_TIME),
    # Health, as the latest batch or heartbeat told it.
    Column("last_seen_at", ISO_TIME),
    Column("app_version", String(32)),
    Column("pending", BigInteger),
    Column("clock_synced", Boolean),
    Column("clock_offset_s", Float),
    Column("last_error", Text),
    Column("last_boot_id", String(64)),
    # Ratings the terminal keeps aside (refused or conflicting; migration 0005), and their causes as a
    # JSON object {cause: count}; NULL until a terminal that knows them says so.
    Column("kept_aside", BigInteger),
    Column("kept_aside_causes", Text),
    # Remote settings (issue 13, migration 0013): the version the terminal applied, and why it refused the one
    # the server wants ("<version>: <why>"), as its latest heartbeat told them.
    Column("settings_version", String(128)),
    Column("settings_error", Text),
    # Its software update, as its heartbeat says (migration 0014; sync.protocol.UPDATE_STATES): the state, the
    # release it is about, and the last failure's reason and release, kept after it goes back to idle (a
    # release it rolled back or refused is not offered to it again; see rollouts.py).
    Column("update_state", String(16)),
    Column("update_version", String(32)),
    Column("update_error", Text),
    Column("update_failed_version", String(32)),
)

enrollment_codes = Table(
    "enrollment_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("site", Text, nullable=False),
    Column("counter", Text),
    Column("node_id", CursorKey, ForeignKey("nodes.id")),  # where the terminal will stand
    Column("created_at", ISO_TIME, nullable=False),
    Column("expires_at", ISO_TIME, nullable=False),
    Column("used_at", ISO_TIME),
    Column("terminal_id", String(64), ForeignKey("terminals.id")),
)

#: People (and scripts) who use the dashboard and the admin API. ``scope_node_id`` is the node whose
#: subtree they may see (NULL: the whole server). Passwords are argon2 hashes; an account made from an
#: admin token of before migration 0007 has none (it logs in with its tokens).
accounts = Table(
    "accounts", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", String(16), nullable=False),  # province_admin | unit_admin | viewer | technician | inspector
    Column("scope_node_id", CursorKey, ForeignKey("nodes.id")),
    Column("password_hash", Text),
    Column("must_change_password", Boolean, nullable=False, default=False),
    Column("password_changed_at", ISO_TIME),
    Column("totp_secret", Text),
    Column("totp_last_step", BigInteger),             # the last TOTP step accepted: no code is used twice
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", ISO_TIME),
    Column("last_login_at", ISO_TIME),
    Column("created_at", ISO_TIME, nullable=False),
    Column("disabled_at", ISO_TIME),
    # A viewer sees the officers' names and results only with this flag (migration 0012; see access.py).
    Column("sees_officers", Boolean, nullable=False, default=False, server_default=false()),
)

admin_tokens = Table(
    "admin_tokens", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("account_id", CursorKey, ForeignKey("accounts.id")),  # whose role and scope it carries
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", ISO_TIME, nullable=False),
    Column("revoked_at", ISO_TIME),
)

ratings = Table(
    "ratings", metadata,
    # The server's cursor: assigned at insert, increasing in commit order (see ingest.py).
    Column("cursor", CursorKey, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # the terminal's UUID, canonical text
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32)),
    Column("reason_outcome", String(8)),
    Column("source", String(8), nullable=False),
    Column("created_at", ISO_TIME, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("monotonic_ns", BigInteger, nullable=False),
    Column("clock_synced", SmallInteger, nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    # Copied at ingest, so a later move of the terminal does not rewrite history.
    Column("site", Text, nullable=False),
    Column("counter", Text),
    # The terminal's place in the tree when the rating arrived (NULL: none), also copied at ingest.
    Column("province_id", CursorKey),
    Column("unit_id", CursorKey),
    Column("office_id", CursorKey),
    Column("counter_id", CursorKey),
    Column("received_at", ISO_TIME, nullable=False),
    Column("corrected_at", ISO_TIME, nullable=False),
    Column("time_quality", String(9), nullable=False),  # exact | device | estimated
    # The officer signed in at the press, as the terminal sent the staff code, and the officer of the
    # terminal's unit with that code when the rating arrived (NULL: none known); the dossier linked to it
    # (blanked after dossier_retention_days); dossier_repeat 1 when the server already held a counted
    # rating for that dossier (from any terminal): counted as filtered in every report, while ``filtered``
    # stays what the terminal sent, so a resend is still identical (migration 0012).
    Column("officer_id", CursorKey),
    Column("officer_code", String(32)),
    Column("dossier", String(48)),
    Column("dossier_repeat", SmallInteger, nullable=False, default=0, server_default="0"),
    Index(None, "terminal_id", "corrected_at"),
    Index(None, "corrected_at"),
    Index(None, "unit_id", "cursor"),  # a unit's pull, in cursor order
    Index(None, "dossier"),  # the count-once rule and the retention purge
)

#: How many ratings each terminal stored per UTC hour of ``corrected_at``, level, reason
#: and filtered flag. Kept by ingest in the transaction that stores the ratings (see
#: ingest.py), so a report counts a few thousand tallies instead of millions of rows,
#: and ingest pays one short upsert per batch instead of more indexes per rating.
#: No NULLs in the key: a missing counter or reason is ''.
rating_tallies = Table(
    "rating_tallies", metadata,
    Column("hour", String(13), nullable=False),  # 2026-11-25T09 (UTC)
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    Column("site", Text, nullable=False),
    Column("counter", Text, nullable=False),
    Column("province_id", CursorKey, nullable=False),  # 0: none
    Column("unit_id", CursorKey, nullable=False),
    Column("office_id", CursorKey, nullable=False),
    Column("counter_id", CursorKey, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("hour", "terminal_id", "site", "counter", "province_id", "unit_id", "office_id",
                         "counter_id", "rating", "reason", "filtered"),
    # A province's or a unit's report reads only its own tallies (migration 0009; bench/national.py).
    Index(None, "province_id", "hour"),
    Index(None, "unit_id", "hour"),
)

#: The coarser counts that national reports read (see rollups.py), kept by a background refresher
#: from ``tally_deltas``: the increments ingest added to ``rating_tallies``, appended in the batch's own
#: transaction (a plain insert: batches of different terminals never wait for each other on it). A
#: report reads a rollup together with the deltas not yet folded into it, in one statement, so it is
#: exact at every moment. Months are local months in the zone named in ``rollup_state``.
tally_deltas = Table(
    "tally_deltas", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("hour", String(13), nullable=False),
    Column("terminal_id", String(64), nullable=False),
    Column("site", Text, nullable=False),
    Column("counter", Text, nullable=False),
    Column("province_id", CursorKey, nullable=False),
    Column("unit_id", CursorKey, nullable=False),
    Column("office_id", CursorKey, nullable=False),
    Column("counter_id", CursorKey, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
)

#: Per terminal (at its place) and local month: what a province's or a unit's year reads.
rating_months = Table(
    "rating_months", metadata,
    Column("month", String(7), nullable=False),  # 2026-11 (local, in rollup_state's zone)
    Column("terminal_id", String(64), nullable=False),
    Column("site", Text, nullable=False),
    Column("counter", Text, nullable=False),
    Column("province_id", CursorKey, nullable=False),
    Column("unit_id", CursorKey, nullable=False),
    Column("office_id", CursorKey, nullable=False),
    Column("counter_id", CursorKey, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("month", "terminal_id", "site", "counter", "province_id", "unit_id", "office_id",
                         "counter_id", "rating", "reason", "filtered"),
    Index(None, "province_id", "month"),
    Index(None, "unit_id", "month"),
)

#: Per unit and local month: what the national report (ranking provinces and their units) reads.
unit_months = Table(
    "unit_months", metadata,
    Column("month", String(7), nullable=False),
    Column("province_id", CursorKey, nullable=False),
    Column("unit_id", CursorKey, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("month", "province_id", "unit_id", "rating", "reason", "filtered"),
)

#: Per province and UTC hour: the trend and the heat map of a province's or the national report.
province_hours = Table(
    "province_hours", metadata,
    Column("hour", String(13), nullable=False),
    Column("province_id", CursorKey, nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("hour", "province_id", "rating", "reason", "filtered"),
    Index(None, "province_id", "hour"),
)

#: Per UTC hour for the whole server: the trend and the heat map of the national report.
server_hours = Table(
    "server_hours", metadata,
    Column("hour", String(13), nullable=False),
    Column("rating", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("filtered", SmallInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("hour", "rating", "reason", "filtered"),
)

#: The rollups' state: ``month_zone`` is the zone their months are local to, present only once they
#: were built whole (until then, and when the server's zone changes, reports read the hourly tallies).
rollup_state = Table(
    "rollup_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

#: A unit's officers (cán bộ), managed on the dashboard (officers.py) and sent to the unit's terminals.
#: ``code`` is the staff code on the badge, unique in the unit; ``pin_hash`` is kiosk/service_pin.py's scheme
#: (the PIN itself is never kept); ``counters`` a JSON list of counter node ids ([]: every counter of the unit).
#: An officer is disabled (``active`` false), never deleted: the ratings keep pointing at it.
officers = Table(
    "officers", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("unit_id", CursorKey, ForeignKey("nodes.id"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("pin_hash", Text),
    Column("photo", LargeBinary),
    Column("counters", Text, nullable=False, default="[]", server_default="[]"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", ISO_TIME, nullable=False),
    Column("updated_at", ISO_TIME, nullable=False),
    UniqueConstraint("unit_id", "code"),
)

#: Officers' shifts as the terminals report them (closed ones only), idempotent by the terminal's id.
officer_shifts = Table(
    "officer_shifts", metadata,
    Column("id", String(36), primary_key=True),
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    Column("officer_id", CursorKey),
    Column("officer_code", String(32), nullable=False),
    Column("signed_in_at", ISO_TIME, nullable=False),
    Column("signed_out_at", ISO_TIME, nullable=False),
    Column("sign_in_how", String(8), nullable=False),    # badge | pin
    Column("sign_out_how", String(8), nullable=False),   # badge | screen | hours | service
    Column("unit_id", CursorKey),
    Column("received_at", ISO_TIME, nullable=False),
    Index(None, "unit_id", "signed_in_at"),
    Index(None, "terminal_id", "signed_in_at"),
)

#: Dossier invitations as the terminals report them (closed ones only), idempotent by the terminal's id;
#: ``dossier`` is blanked after dossier_retention_days, the row kept.
dossier_invitations = Table(
    "dossier_invitations", metadata,
    Column("id", String(36), primary_key=True),
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    Column("unit_id", CursorKey),
    Column("officer_code", String(32)),
    Column("dossier", String(48)),
    Column("created_at", ISO_TIME, nullable=False),
    Column("closed_at", ISO_TIME, nullable=False),
    Column("outcome", String(10), nullable=False),       # rated | unanswered | replaced
    Column("rating_id", String(36)),
    Column("received_at", ISO_TIME, nullable=False),
    Index(None, "unit_id", "created_at"),
    Index(None, "terminal_id", "created_at"),
    Index(None, "created_at"),
)

#: The protocol fields of a rating: what must match for a resend to be a duplicate.

rating_conflicts = Table(
    "rating_conflicts", metadata,
    Column("conflict_id", CursorKey, primary_key=True, autoincrement=True),
    Column("rating_id", String(36), nullable=False),
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),  # who sent it
    Column("received_at", ISO_TIME, nullable=False),
    Column("content", Text, nullable=False),          # the sent rating, as JSON
    Column("content_sha256", String(64), nullable=False),
    # The same conflicting resend is kept once.
    UniqueConstraint("rating_id", "content_sha256"),
)

boot_offsets = Table(
    "boot_offsets", metadata,
    Column("terminal_id", String(64), ForeignKey("terminals.id"), primary_key=True),
    Column("boot_id", String(64), primary_key=True),
    # Server wall time (ns since the epoch) at the boot's monotonic zero: the lowest
    # received_at − batch.monotonic_ns seen, i.e. the batch with the least network delay.
    Column("base_ns", BigInteger, nullable=False),
    Column("first_seen_at", ISO_TIME, nullable=False),
    Column("updated_at", ISO_TIME, nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("rule", String(32), nullable=False),       # dissatisfied_share | terminal_silent
    Column("subject", Text, nullable=False),          # unit:<node id>, a site's name (no unit) or a terminal's id
    Column("fired_at", ISO_TIME, nullable=False),
    Column("cleared_at", ISO_TIME),                   # NULL while the alert is active
    Column("details", Text, nullable=False),          # JSON: the figures that fired it
    # The webhook outbox: when each event was delivered (NULL: not yet; retried by the next check).
    Column("fired_sent_at", ISO_TIME),
    Column("cleared_sent_at", ISO_TIME),
    # A dissatisfied_share alert's unit and province (the lineage of the ratings that fired it; migration
    # 0011): accounts see the alerts of the units in their scope. NULL for a site name or a terminal.
    Column("province_id", CursorKey),
    Column("unit_id", CursorKey),
    Index(None, "cleared_at", "rule", "subject"),
    Index(None, "fired_at"),
)

#: Secrets the server makes for itself on first start and keeps (e.g. the dashboard's session key).
server_secrets = Table(
    "server_secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", ISO_TIME, nullable=False),
)

#: Dashboard logins, one row per session: the cookie carries the session id (signed), the row makes it
#: live. Logout deletes the row; revoking the admin token deletes its rows; ``expires_at`` is checked
#: by the server's clock. Only the SHA-256 hash of the session id is stored.
dashboard_sessions = Table(
    "dashboard_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("admin_token_id", CursorKey, ForeignKey("admin_tokens.id")),  # a login by token (before 0007)
    Column("account_id", CursorKey, ForeignKey("accounts.id")),
    Column("created_at", ISO_TIME, nullable=False),
    Column("expires_at", ISO_TIME, nullable=False),
    Column("last_used_at", ISO_TIME),
    Index(None, "admin_token_id"),
    Index(None, "account_id"),
)

#: Wrong dashboard logins in a row per client address, and its lock-out (see dashboard/login_throttle.py).
#: Kept here, not in the process, so a restart or a second worker does not forgive an address. Times are
#: the server's clock in nanoseconds since the epoch (the throttle's arithmetic is in those).
login_failures = Table(
    "login_failures", metadata,
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until_ns", BigInteger, nullable=False),
    Column("last_failure_ns", BigInteger, nullable=False),
)

#: The audit trail (see server/audit.py): who did what, when, from where, one row per action. Append-only and
#: chained: each row's ``hash`` is SHA-256 over its own fields and ``prev_hash`` (the row before's ``hash``), so an
#: edited, deleted or moved row breaks the chain at that row (``kiosk-server audit verify``). ``id`` is given by
#: ``audit.record`` (the last id + 1, under a lock), never by a sequence: a gap means a deleted row. No foreign
#: keys: the trail keeps the account and node numbers it was given whatever becomes of them.
audit_log = Table(
    "audit_log", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=False),
    Column("at", ISO_TIME, nullable=False),
    Column("actor_account_id", BigInteger),           # the account, where the actor has one
    Column("actor", Text, nullable=False),            # its name: a username, "kiosk-server CLI (user@host)", a terminal
    Column("role", String(32)),
    Column("action", String(32), nullable=False),     # one of audit.ACTIONS
    Column("scope_node_id", BigInteger),              # the node of the tree the action was limited to, if any
    Column("subject", Text),                          # what was acted on
    Column("row_count", BigInteger),                  # ratings or rows pulled or exported
    Column("details", Text, nullable=False),          # JSON object, canonical (sorted keys)
    Column("address", String(64)),                   # the client's address, for actions over HTTP
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "at"),
    Index(None, "action"),
    Index(None, "actor"),
)

#: Remote terminal settings (terminal_settings.py): one row per change of one scope, never updated nor deleted.
#: ``scope`` is ``fleet``, ``node:<id>`` or ``terminal:<id>`` (with ``node_id`` / ``terminal_id`` set to match);
#: ``settings`` the JSON object of that scope's values after the change ({"section.key": value}); a scope's
#: current values are its latest row. ``restores_id``: the change whose values a roll back restored.
terminal_settings_changes = Table(
    "terminal_settings_changes", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("scope", String(80), nullable=False),
    Column("node_id", CursorKey, ForeignKey("nodes.id")),
    Column("terminal_id", String(64), ForeignKey("terminals.id")),
    Column("settings", Text, nullable=False),
    Column("note", Text),
    Column("changed_by", Text, nullable=False),
    Column("changed_at", ISO_TIME, nullable=False),
    Column("restores_id", CursorKey),
    Index(None, "scope", "id"),
)

#: Signed software releases of the terminal (issue 13; releases.py): the archive is a file in the releases folder
#: (``releases_dir``), named ``archive``; ``statement`` is the ``.sig`` file as uploaded (JSON), served to the
#: terminals as is. One row per version: a version is never uploaded twice.
releases = Table(
    "releases", metadata,
    Column("version", String(32), primary_key=True),
    Column("arch", String(16), nullable=False),
    Column("archive", Text, nullable=False),          # the file's name in the releases folder
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("statement", Text, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature_checked", Boolean, nullable=False),  # checked against release_public_key at upload
    Column("uploaded_by", Text, nullable=False),
    Column("uploaded_at", ISO_TIME, nullable=False),
)

#: A release rolled out to the fleet (``node_id`` NULL) or to a node's subtree (rollouts.py): to a first wave of
#: ``wave_pct`` % of its terminals, then to all once the first wave is healthy (100: all at once). ``state``:
#: first_wave | all | stopped | done.
rollouts = Table(
    "rollouts", metadata,
    Column("id", CursorKey, primary_key=True, autoincrement=True),
    Column("version", String(32), ForeignKey("releases.version"), nullable=False),
    Column("node_id", CursorKey, ForeignKey("nodes.id")),
    Column("wave_pct", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("started_by", Text, nullable=False),
    Column("started_at", ISO_TIME, nullable=False),
    Column("all_at", ISO_TIME),                       # when the rest of the terminals were given it
    Column("ended_at", ISO_TIME),                     # stopped or done
    Column("stopped_by", Text),
    Column("stopped_reason", Text),
    Index(None, "state"),
)

#: The terminals of a rollout's first wave, chosen when it started (deterministic: rollouts.first_wave).
rollout_first_wave = Table(
    "rollout_first_wave", metadata,
    Column("rollout_id", CursorKey, ForeignKey("rollouts.id"), nullable=False),
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    PrimaryKeyConstraint("rollout_id", "terminal_id"),
)
