"""The report's counter sections as the OpenAPI document describes them (``GET /api/v1/reports/summary``):
by officer, dossiers, audit counts. Each is null when the report does not hold it: the officers' two for a
reader who may not see officers (a viewer without ``sees_officers``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CheckOut(BaseModel):
    what: str
    parts: int
    whole: int
    ok: bool


def officer_models(cell_out: type[BaseModel]):
    """The by-officer models, their lines built on the report's own cell model."""

    class OfficerCellOut(cell_out):
        officer_id: int | None = Field(description="the officer as the server knows them (null: a staff code it "
                                                   "did not know, or nobody)")
        officer_code: str | None = Field(description="the staff code")
        officer_name: str | None = Field(description="the officer's current name (null: not in the list)")

    class OfficersOut(BaseModel):
        lines: list[OfficerCellOut] = Field(description="one line per officer, ranked by `shrunk_rate`, best first; "
                                                        "`site` is the officer's unit")
        no_officer: OfficerCellOut = Field(description="ratings given with no officer signed in")
        checks: list[CheckOut] = Field(description="the lines and the no-officer line add up to the report's total")
        min_sample: int
        prior_weight: int
        several_units: bool
        in_use: bool = Field(description="some rating of the period had an officer signed in")

    return OfficerCellOut, OfficersOut


class DossierLineOut(BaseModel):
    label: str
    unit: str | None
    counter: str | None
    invitations: int = Field(description="invitations to rate a dossier shown (n)")
    rated: int
    unanswered: int = Field(description="expired with no rating")
    replaced: int = Field(description="closed by the next dossier scanned before a rating")
    other: int
    share_rated: float | None = Field(description="rated / invitations, percent, one decimal")
    too_few: bool = Field(description="fewer invitations than `min_sample`")


class DossiersOut(BaseModel):
    counters: list[DossierLineOut]
    units: list[DossierLineOut] = Field(description="per unit, when the report holds several")
    total: DossierLineOut
    repeats: int = Field(description="ratings that were a dossier's second (kept, counted as filtered)")
    min_sample: int
    checks: list[CheckOut]
    in_use: bool


class AuditLineOut(BaseModel):
    label: str
    unit: str | None
    counter: str | None
    terminal: str | None
    officer_code: str | None
    officer_name: str | None
    counted: int = Field(description="counted ratings")
    no_officer: int = Field(description="of them, given with no officer signed in")
    outside_hours: int = Field(description="of them, outside the opening hours (`hours`)")
    sign_ins: int
    bursts: int = Field(description="sign-ins followed by `run` or more very-satisfied ratings in a row within "
                                    "`window_s` seconds")
    burst_ratings: int


class AuditOut(BaseModel):
    terminals: list[AuditLineOut]
    officers: list[AuditLineOut] = Field(description="per officer; the last line: nobody signed in")
    total: AuditLineOut
    hours: str = Field(description="the opening hours the counts used (the server's `opening_hours`)")
    window_s: int
    run: int
    note: str = Field(description="the neutral sentence printed with the counts (Vietnamese)")
    note_en: str = Field(description="the same in English: counts to look into, not a finding")
    checks: list[CheckOut]
    in_use: bool
