"""Output schemas of the admin API (input schemas are the protocol's, in ``sync.protocol``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sync.protocol import RatingCode

#: The columns of a pulled rating, in CSV order.
RATING_OUTPUT_FIELDS = ("cursor", "id", "terminal_id", "site", "counter", "rating", "reason", "reason_outcome",
                        "source", "filtered", "created_at", "corrected_at", "time_quality", "received_at",
                        "boot_id", "monotonic_ns", "clock_synced")


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
    filtered: int = Field(description="1: a press inside the repeat interval, kept but not counted")
    created_at: str = Field(description="the terminal's wall clock at the press")
    corrected_at: str = Field(description="the best known true time of the press")
    time_quality: Literal["exact", "device", "estimated"]
    received_at: str = Field(description="the server's clock when the batch arrived")
    boot_id: str
    monotonic_ns: int
    clock_synced: int


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


class TerminalsList(BaseModel):
    ok: Literal[True] = True
    terminals: list[TerminalOut]


class ServerHealth(BaseModel):
    ok: Literal[True] = True
    database: Literal["ok"] = "ok"
    version: str
