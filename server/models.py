"""Output schemas of the admin API, and the inputs of its fleet actions (the terminals' inputs are the protocol's,
in ``sync.protocol``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.protocol import RatingCode

from .fleet_actions import MAX_CODE_TTL_S, MAX_CODES_AT_ONCE, MIN_CODE_TTL_S

#: The columns of a pulled rating, in CSV order.
RATING_OUTPUT_FIELDS = ("cursor", "id", "terminal_id", "site", "counter", "rating", "reason", "reason_outcome",
                        "source", "filtered", "created_at", "corrected_at", "time_quality", "received_at",
                        "boot_id", "monotonic_ns", "clock_synced")
#: After them, for the roles that may see them (server/access.py: ``read_officers``, ``read_dossiers``).
OFFICER_OUTPUT_FIELDS = ("officer_code", "officer_name")
DOSSIER_OUTPUT_FIELDS = ("dossier",)


class RatingOut(BaseModel):
    cursor: int = Field(description="server-assigned, increasing; page with ?after=<cursor>")
    id: str
    terminal_id: str
    site: str
    counter: str | None
    rating: RatingCode
    reason: str | None
    reason_outcome: str | None
    source: str
    filtered: int = Field(description="1: kept but not counted (a press inside the repeat interval, or a second "
                                      "rating of a dossier the server already counted a rating for)")
    created_at: str = Field(description="the terminal's wall clock at the press")
    corrected_at: str = Field(description="the best known true time of the press")
    time_quality: Literal["exact", "device", "estimated"]
    received_at: str = Field(description="the server's clock when the batch arrived")
    boot_id: str
    monotonic_ns: int
    clock_synced: int
    officer_code: str | None = Field(default=None, description=(
        "the staff code of the officer signed in at the press; only for roles that may see officers"))
    officer_name: str | None = Field(default=None, description=(
        "that officer's name in the unit's registry (null: not a known officer); only for roles that may see officers"))
    dossier: str | None = Field(default=None, description=(
        "the dossier code linked to the rating (null: none, or past dossier_retention_days); only for province "
        "and unit admins and inspectors"))


class RatingsPage(BaseModel):
    ok: Literal[True] = True
    ratings: list[RatingOut]
    next: int | None = Field(description="the `after` of the next page, or null when this page is the last")


class TerminalOut(BaseModel):
    id: str
    site: str
    counter: str | None
    node_id: int | None = Field(description="the node of the organisation tree it stands at (a counter or an office)")
    enrolled_at: str
    revoked: bool
    revoked_at: str | None
    last_seen_at: str | None
    app_version: str | None
    pending: int | None = Field(description="ratings the terminal still had to send, at its last contact")
    clock_synced: bool | None
    clock_offset_s: float | None = Field(description="terminal wall clock minus server clock, last contact")
    last_error: str | None
    kept_aside: int | None = Field(description=(
        "ratings the terminal keeps aside and no longer sends (refused or conflicting), at its last contact; "
        "null when it has none or is older than this field"))
    kept_aside_causes: dict[str, int] | None = Field(description="those ratings by cause, the most frequent first")
    settings_wanted: str | None = Field(description=(
        "the remote settings version the server wants it to run; null: no remote settings ever set above it"))
    settings_applied: str | None = Field(description="the remote settings version it reported applied")
    settings_error: str | None = Field(description="why it refused the wanted version, as it reported it")
    update_state: str | None = Field(default=None, description=(
        "its software update: idle, downloading, ready, trial, rolled_back or failed (null: none ever offered)"))
    update_version: str | None = Field(default=None, description="the release update_state is about")
    update_error: str | None = Field(default=None, description=(
        "why its last update failed or was rolled back; kept after it is idle again (null: no failure)"))


class TerminalsList(BaseModel):
    ok: Literal[True] = True
    terminals: list[TerminalOut]


class IngestFigures(BaseModel):
    """The batch path's admission control (server/admission.py), in this server process since it started."""

    in_flight: int = Field(description="batches being stored now")
    limit: int = Field(description="batches stored at once now: ingest_concurrency, lower while the database's "
                                   "write lock is slow")
    concurrency: int = Field(description="the ingest_concurrency setting")
    admitted: int = Field(description="batches let in since start")
    refused: int = Field(description="batches answered 429 busy since start (not the per-terminal rate limit)")
    throughput_per_s: float = Field(description="batches finished per second, over the last 10 s")
    lock_wait_ms: float = Field(description="recent wait for the database's write lock, moving average")
    reserved: int = Field(description="refused terminals holding a reserved turn to come back")
    retry_after_s: int = Field(description="how far ahead the last reserved turn is (0: none)")


class ServerHealth(BaseModel):
    ok: Literal[True] = True
    database: Literal["ok"] = "ok"
    version: str
    ingest: IngestFigures | None = Field(default=None, description=(
        "the batch path's admission control: when these figures show refusals, terminals are told to come back "
        "later (429 with Retry-After)"))


# -- the organisation tree and the fleet's actions (routes/tree.py, enrollment_codes.py, terminals.py) --------

_NODE_REF = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$",
                  description="a node of the tree: its official code, or #id (see GET /api/v1/tree)")


class TreeNodeOut(BaseModel):
    id: int
    kind: Literal["province", "unit", "office", "counter"]
    code: str | None = Field(description="its official code where one exists; null: named by #id")
    name: str
    parent_id: int | None
    depth: int = Field(description="0 for a province, 1 for a unit, …")
    terminals_here: int = Field(description="terminals (not revoked) standing at this node")
    terminals: int = Field(description="terminals (not revoked) standing at this node and below it")


class TreeList(BaseModel):
    ok: Literal[True] = True
    nodes: list[TreeNodeOut] = Field(description="parents before their children")


class TreeChangeOut(BaseModel):
    change: Literal["added", "renamed", "moved", "coded"]
    id: int
    kind: str
    code: str | None
    name: str
    path: str


class TreeImportOut(BaseModel):
    ok: Literal[True] = True
    dry_run: bool = Field(description="true: nothing was changed; the counts say what the file would change")
    rows: int
    added: int
    renamed: int
    moved: int
    unchanged: int
    terminals_placed: int
    changes: list[TreeChangeOut]


class EnrollmentCodesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    node: str = _NODE_REF
    count: int = Field(default=1, ge=1, le=MAX_CODES_AT_ONCE, description="how many codes (one per terminal)")
    expires_s: int = Field(default=7 * 86400, ge=MIN_CODE_TTL_S, le=MAX_CODE_TTL_S,
                           description="lifetime of the codes, seconds")


class EnrollmentCodesOut(BaseModel):
    ok: Literal[True] = True
    node_id: int
    path: str = Field(description="where the terminals will stand, province › unit › office › counter")
    site: str
    counter: str | None
    expires_at: str
    codes: list[str] = Field(description="one-time codes, shown once: `kiosk provision --code CODE`")
    strings: list[str] | None = Field(description="enrolment strings (server address and code) when the server's "
                                                  "public_url is set: `kiosk provision STRING`")


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    node: str = _NODE_REF


class TerminalMovedOut(BaseModel):
    ok: Literal[True] = True
    terminal_id: str
    node_id: int
    site: str
    counter: str | None
    path: str = Field(description="where it stands now; its next ratings count there")


class TerminalRevokedOut(BaseModel):
    ok: Literal[True] = True
    terminal_id: str
    revoked_at: str
