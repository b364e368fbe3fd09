"""The wire protocol between terminals and the central server (API v1).

Pydantic models shared by the uploader (which builds them from local rows)
and the server (which validates every request against them). Changing a
field here changes the contract: bump the API version instead.

    >>> batch = Batch.model_validate({
    ...     "sent_at": "2026-11-25T09:30:15.000Z", "boot_id": "b1", "monotonic_ns": 9_000_000_000,
    ...     "health": {"pending": 1, "app_version": "0.1.0", "clock_synced": True},
    ...     "ratings": [{"id": "5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e", "terminal_id": "t1",
    ...                  "rating": "satisfied", "source": "button",
    ...                  "created_at": "2026-11-25T09:30:12.345Z", "boot_id": "b1",
    ...                  "monotonic_ns": 6_000_000_000, "clock_synced": 1}]})
    >>> batch.ratings[0].rating
    'satisfied'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .names import TERMINAL_ID_MAX
from .vocabulary import (DOSSIER_CODE_MAX, DOSSIER_CODE_PATTERN, INVITATION_OUTCOMES, LEVELS, OFFICER_CODE_MAX,
                         OFFICER_CODE_PATTERN, RATING_CONTENT_FIELDS, REASON_OUTCOMES, REASONS, SIGN_IN_HOWS,
                         SIGN_OUT_HOWS, SOURCES)

API_PREFIX = "/api/v1"
#: A batch holds at most this many ratings and this many bytes of JSON.
MAX_BATCH_RATINGS = 500
#: The longest pause between batches a server may ask for in a receipt's pace (issue 14).
PACE_PAUSE_MAX_S = 300.0
#: ... and at most this many closed shifts and this many closed invitations (issue 12).
MAX_BATCH_SHIFTS = MAX_BATCH_INVITATIONS = 500
MAX_BATCH_BYTES = 512 * 1024

RatingCode = Literal[LEVELS]
ReasonCode = Literal[REASONS]
ReasonOutcome = Literal[REASON_OUTCOMES]
AckStatus = Literal["stored", "duplicate", "conflict", "refused"]
#: ISO 8601 UTC with milliseconds, as the terminal writes it.
ISO_UTC_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"

#: The longest app version and last error a terminal may report, in characters (longer: the batch is refused).
APP_VERSION_MAX = 32
LAST_ERROR_MAX = 500

#: A settings version is a content hash (see server/terminal_settings.py).
SETTINGS_VERSION_MAX = 128
#: ``idle`` (running the release it should), ``downloading``, ``ready`` (verified and unpacked beside the running
#: version, waiting for a quiet moment), ``trial`` (switched, not yet proven healthy), ``rolled_back`` (the release
#: failed its trial and the previous version runs again), ``failed`` (refused before the switch: signature, hash,
#: disk space, download).
UPDATE_STATES = ("idle", "downloading", "ready", "trial", "rolled_back", "failed")

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
#: The largest whole number the databases hold (a signed 64-bit integer).
INT64_MAX = 2**63 - 1


def _whole_number(value):
    """JSON's ``10.0`` is the integer 10, as the documented schema (JSON Schema) says; a fraction stays an error.

        >>> _whole_number(10.0), _whole_number(10.5), _whole_number("10")
        (10, 10.5, '10')
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A whole number however JSON writes it (``10`` or ``10.0``), never text or a fraction, even in strict models.
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


def _flag(value):
    """A 0/1 field is a number, as the documented schema (an integer) says: ``true`` is not read as 1.

        >>> _flag(1), _flag(0.0)
        (1, 0)
        >>> _flag(True)
        Traceback (most recent call last):
        ...
        ValueError: expected 0 or 1, got true
    """
    if isinstance(value, bool):  # Python's True == 1, so the Literal alone lets JSON's true through
        raise ValueError(f"expected 0 or 1, got {str(value).lower()}")
    return _whole_number(value)


#: 0 or 1 (``clock_synced``, ``filtered``), never ``true``/``false``.
Flag = Annotated[Literal[0, 1], BeforeValidator(_flag)]


#: A staff code (``[A-Za-z0-9._-]``, at most 32) and a dossier code (``[A-Za-z0-9._/-]``, at most 48).
OfficerCode = Annotated[str, Field(min_length=1, max_length=OFFICER_CODE_MAX, pattern=OFFICER_CODE_PATTERN)]
DossierCode = Annotated[str, Field(min_length=1, max_length=DOSSIER_CODE_MAX, pattern=DOSSIER_CODE_PATTERN)]
IsoUtc = Annotated[str, Field(pattern=ISO_UTC_PATTERN)]


class Rating(BaseModel):
    """One sealed rating, exactly as the terminal stored it."""

    model_config = _STRICT

    # JSON has no UUID type: the text form is accepted even though the model is strict.
    id: UUID = Field(strict=False, description="made by the terminal when the press was stored; never changes")
    terminal_id: str = Field(min_length=1, max_length=TERMINAL_ID_MAX)
    rating: RatingCode
    reason: ReasonCode | None = None
    reason_outcome: ReasonOutcome | None = None
    source: Literal[SOURCES]
    created_at: str = Field(pattern=ISO_UTC_PATTERN, description="the terminal's wall clock, UTC")
    boot_id: str = Field(min_length=1, max_length=64)
    monotonic_ns: WholeNumber = Field(ge=0, le=INT64_MAX, description="the terminal's monotonic clock at the press")
    clock_synced: Flag
    filtered: Flag = 0
    officer: OfficerCode | None = Field(default=None, description=(
        "the staff code of the officer signed in at the press; absent or null: none (and from older terminals)"))
    dossier: DossierCode | None = Field(default=None, description=(
        "the dossier code the press was linked to by an invitation; absent or null: none"))

    @model_validator(mode="after")
    def _reason_rules(self):
        if self.rating != "dissatisfied" and (self.reason or self.reason_outcome):
            raise ValueError("reason and reason_outcome go only with a dissatisfied rating")
        if (self.reason_outcome == "given") != (self.reason is not None):
            raise ValueError("a reason goes with reason_outcome 'given' and only with it")
        return self

    def content(self) -> dict:
        """The fields that must match for a resend to count as identical (``RATING_CONTENT_FIELDS``).

            >>> Rating.model_validate({"id": "5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e", "terminal_id": "t1",
            ...     "rating": "satisfied", "source": "touch", "created_at": "2026-11-25T09:30:12.345Z",
            ...     "boot_id": "b1", "monotonic_ns": 6, "clock_synced": 1}).content()["reason_outcome"] is None
            True
        """
        return {"id": str(self.id), **{name: getattr(self, name) for name in RATING_CONTENT_FIELDS[1:]}}


#: A heartbeat names at most this many causes of ratings kept aside, each at most this long.
MAX_KEPT_ASIDE_CAUSES = 10
MAX_KEPT_ASIDE_CAUSE_CHARS = 200
KeptAsideCause = Annotated[str, Field(min_length=1, max_length=MAX_KEPT_ASIDE_CAUSE_CHARS)]


class Health(BaseModel):
    """What the terminal says about itself with every batch and heartbeat."""

    model_config = _STRICT

    pending: WholeNumber = Field(ge=0, le=INT64_MAX, description="sealed ratings not yet acknowledged, this batch included")
    app_version: str = Field(max_length=APP_VERSION_MAX)
    clock_synced: bool
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX)
    kept_aside: int | None = Field(default=None, ge=0, description=(
        "ratings the terminal keeps aside and no longer sends (conflicts and refusals); "
        "absent from older terminals"))
    kept_aside_causes: dict[KeptAsideCause, Annotated[int, Field(ge=0, le=INT64_MAX)]] | None = Field(
        default=None, max_length=MAX_KEPT_ASIDE_CAUSES, description=(
            "the ratings kept aside by cause (the server's refusal reason, or why they cannot be sent), "
            "the most frequent first; absent from older terminals"))
    # Issue 13: remote settings and signed updates. All absent from older terminals.
    settings_version: str | None = Field(default=None, max_length=SETTINGS_VERSION_MAX, description=(
        "the version of the remote settings this terminal has applied; absent: none applied yet"))
    settings_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX, description=(
        "why the terminal refused the settings version the server wants, \"<version>: <why>\"; absent: none refused"))
    update_state: Literal[UPDATE_STATES] | None = Field(default=None, description=(
        "where the terminal's software update stands; absent: no update was ever offered"))
    update_version: str | None = Field(default=None, max_length=APP_VERSION_MAX, description=(
        "the release the update_state is about"))
    update_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX, description=(
        "why the last update failed or was rolled back; absent: no failure"))


class Shift(BaseModel):
    """One closed shift of an officer at this terminal (sign-in to sign-out), times in the terminal's clock."""

    model_config = _STRICT

    id: UUID = Field(strict=False, description="made by the terminal at the sign-in; never changes")
    officer: OfficerCode
    signed_in_at: IsoUtc
    signed_out_at: IsoUtc
    sign_in_how: Literal[SIGN_IN_HOWS]
    sign_out_how: Literal[SIGN_OUT_HOWS]


class Invitation(BaseModel):
    """One closed dossier invitation: ``rated`` (``rating_id`` the linked press), ``unanswered`` (expired)
    or ``replaced`` (another dossier was scanned before anyone rated)."""

    model_config = _STRICT

    id: UUID = Field(strict=False, description="made by the terminal when the invitation opened")
    dossier: DossierCode
    officer: OfficerCode | None = None
    created_at: IsoUtc
    closed_at: IsoUtc
    outcome: Literal[INVITATION_OUTCOMES]
    rating_id: UUID | None = Field(default=None, strict=False)

    @model_validator(mode="after")
    def _rated_has_a_rating(self):
        if (self.outcome == "rated") != (self.rating_id is not None):
            raise ValueError("rating_id goes with outcome 'rated' and only with it")
        return self


class Batch(BaseModel):
    """``POST /api/v1/batches``: ratings plus the terminal's clock at sending.

    An empty ``ratings`` list is a heartbeat. ``shifts`` and ``invitations`` (closed ones only) come from
    terminals with officer sign-in or dossier invitations on; the terminal leaves them out when it has none.
    """

    model_config = _STRICT

    sent_at: str = Field(pattern=ISO_UTC_PATTERN)
    boot_id: str = Field(min_length=1, max_length=64)
    monotonic_ns: WholeNumber = Field(ge=0, le=INT64_MAX)
    health: Health
    ratings: list[Rating] = Field(default_factory=list, max_length=MAX_BATCH_RATINGS)
    shifts: list[Shift] = Field(default_factory=list, max_length=MAX_BATCH_SHIFTS)
    invitations: list[Invitation] = Field(default_factory=list, max_length=MAX_BATCH_INVITATIONS)


class Ack(BaseModel):
    """What became of one rating: ``stored``, ``duplicate``, ``conflict``, or ``refused`` with a ``reason``.

    ``reason`` ("field: why") is present only on a refusal; nothing of a refused rating is stored.
    """

    id: UUID
    status: AckStatus
    reason: str | None = Field(default=None, description="only with status 'refused': the field at fault and why")


class ReleaseOffer(BaseModel):
    """A release offered to a terminal in a batch receipt."""

    version: str = Field(min_length=1, max_length=APP_VERSION_MAX)
    size: int = Field(ge=1, description="bytes of the signed archive")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="of the archive")


class Pace(BaseModel):
    """How fast the server wants a terminal to send its backlog (issue 14), in a batch receipt.

    Until the next receipt the terminal sends at most ``batch_size`` ratings per batch and leaves
    ``pause_s`` between an answer and its next batch: the smaller batch and the longer pause of its own
    settings and these win. A receipt without it: the terminal's own settings.
    """

    batch_size: int = Field(ge=1, le=MAX_BATCH_RATINGS, description="most ratings in each next batch")
    pause_s: float = Field(ge=0, le=PACE_PAUSE_MAX_S, description="seconds between an answer and the next batch")


class TerminalSettingsSet(BaseModel):
    """``GET /api/v1/terminal/settings`` (device token): the terminal's effective remote settings.

    ``values`` maps ``"section.key"`` (the local config's names, e.g. ``"feedback.reasons"``) to a value; a key
    left out takes the terminal's local config. ETag is ``version``; ``If-None-Match`` with it answers 304.
    """

    version: str = Field(min_length=1, max_length=SETTINGS_VERSION_MAX)
    values: dict[str, Any]


class BatchReceipt(BaseModel):
    """The answer to a batch: one acknowledgement per rating id, in order.

    Serialised without empty fields (``exclude_none``): a batch of valid ratings is
    answered exactly as before refusals existed.
    """

    ok: Literal[True] = True
    acks: list[Ack]
    received_at: str
    clock_offset_s: float = Field(description="terminal wall clock minus server clock at reception")
    shift_acks: list[UUID] | None = Field(default=None, description=(
        "the ids of the batch's shifts the server holds (stored now or before); absent when none were sent"))
    invitation_acks: list[UUID] | None = Field(default=None, description=(
        "the ids of the batch's invitations the server holds (stored now or before)"))
    officers_version: str | None = Field(default=None, description=(
        "the version of this terminal's officers list; the terminal fetches GET /api/v1/terminal/officers "
        "when it differs from the one it holds (absent from older servers)"))
    settings_version: str | None = Field(default=None, description=(
        "the version of the remote settings this terminal should run; the terminal fetches "
        "GET /api/v1/terminal/settings when it differs from the one it applied (absent: no remote settings)"))
    release: ReleaseOffer | None = Field(default=None, description=(
        "the software release this terminal should run, when a rollout includes it and it runs another; "
        "the terminal fetches GET /api/v1/terminal/releases/{version} (absent: nothing to update)"))
    pace: Pace | None = Field(default=None, description=(
        "how fast to send the rest of the backlog: at most batch_size ratings per batch, pause_s between batches "
        "(absent: the terminal's own settings); a server under load slows its fleet with it"))


class TerminalOfficer(BaseModel):
    """One officer as a terminal receives them."""

    code: OfficerCode
    name: str = Field(min_length=1, max_length=200)
    pin_hash: str | None = Field(default=None, max_length=300, description=(
        "pbkdf2_sha256$rounds$salt$hash, made on the server; null: sign-in by badge only"))
    counters: list[str | int] = Field(default_factory=list, description=(
        "the counters (node ids or names) the officer may serve at; empty: every counter of the unit"))
    photo: str | None = Field(default=None, description="base64 JPEG or PNG, or null")


class TerminalOfficers(BaseModel):
    """``GET /api/v1/terminal/officers`` (device token): the officers of the terminal's unit.

    ETag is ``version``; ``If-None-Match`` with it answers 304.
    """

    version: str = Field(min_length=1, max_length=128)
    dossier_retention_days: int = Field(ge=1, le=36500)
    officers: list[TerminalOfficer] = Field(default_factory=list)


class Enrollment(BaseModel):
    """``POST /api/v1/enroll``: a one-time code buys an id and a device token."""

    model_config = _STRICT

    code: str = Field(min_length=4, max_length=128)
    app_version: str | None = Field(default=None, max_length=APP_VERSION_MAX)


class EnrollmentReceipt(BaseModel):
    ok: Literal[True] = True
    terminal_id: str
    device_token: str
    site: str
    counter: str | None


class ErrorEnvelope(BaseModel):
    """Every error answer: ``{"ok": false, "error": "...", ...}``."""

    ok: Literal[False] = False
    error: str
    field: str | None = None
