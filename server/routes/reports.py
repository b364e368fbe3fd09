"""``GET /api/v1/reports/summary``: a period's report over the server's ratings, as JSON, CSV or Excel.

The figures are :mod:`reports`' own, so they are the same as
``kiosk-admin report --db`` on a pulled file. Periods are local to the
server's ``timezone`` setting unless ``tz`` says otherwise.
"""

from __future__ import annotations

import io
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope
from reports import FilterError, PeriodError, build_report, check_filters, parse_period
from reports.periods import DATE_PATTERN, FIRST_DATE, LAST_DATE
from reports.render import write_csv, write_xlsx

from ..access import Caller, require
from ..dependencies import caller_allowed, db_connection
from ..errors import ApiError
from ..scoped import scoped_source

router = APIRouter(tags=["reports"])

#: How the date parameters describe their range.
DATES = f"an ISO date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"

#: The filters hold no control character (no name does; see reports.filters), as the schema says.
NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
NO_CONTROL = "only this name (no control characters: no stored name holds one)"

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CellOut(BaseModel):
    label: str
    site: str | None
    counter: str | None
    terminal: str | None
    counted: int = Field(description="ratings that count (filtered presses excluded)")
    very_satisfied: int
    satisfied: int
    dissatisfied: int
    pct: dict[str, float | None] = Field(description="each level's share of `counted`, percent, one decimal")
    satisfaction_rate: float | None = Field(description="(very satisfied + satisfied) / counted, percent")
    dissatisfied_reasons: dict[str, int] = Field(description='reason code -> count; "no_reason" when none given')
    filtered: int = Field(description="presses inside the repeat interval: kept, shown, never counted")
    unrecognised: int
    too_few: bool = Field(description="fewer than `min_sample` counted ratings: too few to compare")
    shrunk_rate: float | None = Field(description="the satisfaction rate shrunk toward the overall average, "
                                                  "used for ranking")
    rank: int | None


class CheckOut(BaseModel):
    what: str
    parts: int
    whole: int
    ok: bool


class PeriodOut(BaseModel):
    kind: str
    label: str
    tz: str
    first_day: str
    last_day: str
    start: str
    end: str
    start_utc: str
    end_utc: str


class ReportOut(BaseModel):
    period: PeriodOut
    group_by: str | None
    filters: dict[str, str | None]
    total: CellOut
    groups: list[CellOut] = Field(description="ranked by `shrunk_rate`, best first")
    trend_unit: Literal["day", "week", "month"]
    trend: list[CellOut]
    heatmap: list[list[int]] = Field(description="counted ratings, [weekday Mon..Sun][local hour 0..23]")
    heatmap_dissatisfied: list[list[int]]
    reasons: list[str]
    sites: dict[str, dict[str, list[CellOut]]] = Field(description="per site: its counters and terminals")
    reconciles: bool = Field(description="every part adds up to its whole (see `checks`)")
    checks: list[CheckOut]
    average_rate: float | None
    min_sample: int
    prior_weight: int
    source: str


class ReportAnswer(BaseModel):
    ok: Literal[True] = True
    report: ReportOut


@router.get("/reports/summary", response_model=ReportAnswer, summary="a period's report: levels, rates, reasons",
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}, 401: {"model": ErrorEnvelope},
                       403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}})
def report_summary(
        request: Request,
        period: Literal["day", "week", "month", "quarter", "half", "year", "range"] = Query(
            "month", description="half = six months; range uses start and end"),
        on: str | None = Query(None, json_schema_extra={"pattern": DATE_PATTERN, "format": "date"},
                               description=f"a local date inside the period (default: today), {DATES}; "
                                           "not used with period=range"),
        start: str | None = Query(None, json_schema_extra={"pattern": DATE_PATTERN, "format": "date"},
                                  description=f"first local day of a range, {DATES}; needed by period=range "
                                              "and used only with it"),
        end: str | None = Query(None, json_schema_extra={"pattern": DATE_PATTERN, "format": "date"},
                                description=f"last local day of a range (inclusive, not before start), {DATES}; "
                                            "needed by period=range and used only with it"),
        group_by: Literal["site", "counter", "terminal", "none"] = Query("site"),
        site: str | None = Query(None, max_length=500, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                 description=NO_CONTROL),
        counter: str | None = Query(None, max_length=500, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                    description=NO_CONTROL),
        terminal: str | None = Query(None, max_length=64, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                     description=NO_CONTROL),
        trend: Literal["day", "week", "month"] | None = Query(None, description="default: from the period's length"),
        tz: str | None = Query(None, max_length=64, description="default: the server's timezone setting"),
        format: Literal["json", "csv", "xlsx"] = Query("json"),
        caller: Caller = Depends(caller_allowed("read_reports")), conn: Connection = Depends(db_connection)) -> Response:
    ranged = period == "range"
    try:
        check_filters(site=site, counter=counter, terminal=terminal)
        # Like the dashboard's form: the dates a period does not use are left aside, not refused.
        chosen = parse_period(period, on=None if ranged else on, start=start if ranged else None,
                              end=end if ranged else None, tz=tz or request.app.state.settings.timezone)
    except (FilterError, PeriodError) as exc:
        raise ApiError(422, str(exc), field=exc.field) from None
    if format != "json":
        require(caller, "export")
    report = build_report(scoped_source(conn, caller), chosen, group_by=None if group_by == "none" else group_by,
                          site=site, counter=counter, terminal=terminal, trend=trend)
    if format == "json":
        return JSONResponse({"ok": True, "report": report.to_dict()})
    name = f"bao-cao-{chosen.kind}-{chosen.first_day.isoformat()}"
    if format == "csv":
        out = io.StringIO()
        write_csv(report, out)
        return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    out = io.BytesIO()
    write_xlsx(report, out)
    return Response(out.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
