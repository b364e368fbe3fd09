"""``GET /api/v1/reports/summary``: a period's report over the server's ratings, as JSON, CSV, Excel, or the
official PDF for signing (:mod:`server.official_report`).

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

from ..access import Caller, node_in_scope, require
from ..audit import actor_of, record
from ..db import write_transaction
from ..dependencies import caller_allowed, client_address, db_connection
from ..errors import ApiError
from ..scoped import scoped_source
from ..official_report import PDF, official_pdf, pdf_filename
from ..report_sections import with_counter_sections
from .report_counter_out import AuditOut, CheckOut, DossiersOut, officer_models

router = APIRouter(tags=["reports"])

#: How the date parameters describe their range.
DATES = f"an ISO date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"

#: The filters hold no control character (no name does; see reports.filters), as the schema says.
NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
NO_CONTROL = "only this name (no control characters: no stored name holds one)"

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ChangeOut(BaseModel):
    counted: int = Field(description="this period's counted ratings (n)")
    content: int = Field(description="this period's very satisfied + satisfied")
    rate: float | None
    previous_counted: int = Field(description="the previous period's counted ratings (n)")
    previous_content: int
    previous_rate: float | None
    difference: float | None = Field(description="rate − previous_rate, in points, from the exact counts")
    low: float | None = Field(description="the difference's 95% interval (Newcombe's hybrid score), points; "
                                          "null when either side has fewer than `min_sample`")
    high: float | None
    confidence: float
    verdict: Literal["up", "down", "no_clear_change", "too_few"] = Field(
        description="up/down only when the interval excludes 0")
    verdict_vi: str


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
    change: ChangeOut | None = Field(description="against the previous period (total and groups only)")
    node_id: int | None = Field(None, description="the tree node this group is, in a report by tree level "
                                                  "(0: the ratings that belong to no node of that level)")


OfficerCellOut, OfficersOut = officer_models(CellOut)


class NodeStep(BaseModel):
    id: int
    kind: str
    name: str = Field(description="the node's current name")


class NodeOut(NodeStep):
    path: list[NodeStep] = Field(description="from the province down to this node")


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
    previous_period: PeriodOut | None = Field(description="the period of the same kind just before, which "
                                                          "`change` compares with")
    node: NodeOut | None = Field(description="the tree node reported on (null: the whole server)")
    officers: OfficersOut | None = Field(None, description="by officer (null: not for this reader)")
    dossiers: DossiersOut | None = Field(None, description="the dossier invitations and the share rated")
    audit: AuditOut | None = Field(None, description="the audit counts per terminal and officer (null: not for "
                                                     "this reader, or no officer registered in the report's units "
                                                     "and no sign-in in the period)")


class ReportAnswer(BaseModel):
    ok: Literal[True] = True
    report: ReportOut


@router.get("/reports/summary", response_model=ReportAnswer, summary="a period's report: levels, rates, reasons",
            responses={200: {"content": {"text/csv": {}, XLSX: {}, PDF: {}}}, 401: {"model": ErrorEnvelope},
                       403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope},
                       503: {"model": ErrorEnvelope, "description": "format=pdf: the serif font is not installed"}})
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
        node: int | None = Query(None, ge=1, le=2**62, description="report on this node of the organisation tree "
                                 "and its subtree (see `kiosk-server tree`); its groups are the nodes below it"),
        group_by: Literal["site", "province", "unit", "office", "counter", "terminal", "children", "none"] | None = Query(
            None, description="default: site; with a node, the level just below it (children). province (on a "
                              "server of several provinces), unit and office (and, with a node, counter and "
                              "terminal) group by the tree's nodes, shown by their current names; children: the "
                              "level just below the node (the provinces, or the units, of the whole server); site "
                              "and counter without a node group by the names stored with each rating"),
        site: str | None = Query(None, max_length=500, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                 description=NO_CONTROL),
        counter: str | None = Query(None, max_length=500, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                    description=NO_CONTROL),
        terminal: str | None = Query(None, max_length=64, json_schema_extra={"pattern": NO_CONTROL_PATTERN},
                                     description=NO_CONTROL),
        trend: Literal["day", "week", "month"] | None = Query(None, description="default: from the period's length"),
        tz: str | None = Query(None, max_length=64, description="default: the server's timezone setting"),
        format: Literal["json", "csv", "xlsx", "pdf"] = Query(
            "json", description="pdf: the official report for signing (Decree 30/2020/NĐ-CP's form), its "
                                "letterhead from the server's report_* settings"),
        caller: Caller = Depends(caller_allowed("read_reports")), conn: Connection = Depends(db_connection)) -> Response:
    ranged = period == "range"
    if format != "json":
        require(caller, "export")
    # A scoped account's report is of its node (its groups: the level below it) unless it names a node inside
    # it; a node outside it is answered like one that does not exist.
    if node is None:
        node = caller.scope_node_id
    elif not node_in_scope(conn, caller, node):
        raise ApiError(422, f"node: no node has the id {node} in your part of the tree", field="node")
    try:
        check_filters(site=site, counter=counter, terminal=terminal)
        # Like the dashboard's form: the dates a period does not use are left aside, not refused.
        chosen = parse_period(period, on=None if ranged else on, start=start if ranged else None,
                              end=end if ranged else None, tz=tz or request.app.state.settings.timezone)
        grouping = {None: "children" if node is not None else "site", "none": None}.get(group_by, group_by)
        source = scoped_source(conn, caller)
        report = build_report(source, chosen, group_by=grouping, site=site, counter=counter,
                              terminal=terminal, trend=trend, node=node)
        with_counter_sections(caller, report, source, request.app.state.settings)
    except (FilterError, PeriodError) as exc:
        raise ApiError(422, str(exc), field=exc.field) from None
    with write_transaction(conn):
        record(conn, actor=actor_of(caller), action="export", subject="report", rows=report.total.counted,
               details={"format": format, "period": chosen.kind, "first_day": chosen.first_day.isoformat(),
                        "last_day": chosen.last_day.isoformat(), "group_by": group_by, "site": site,
                        "counter": counter, "terminal": terminal, "node": node, "via": "api"},
               address=client_address(request), now_ns=request.app.state.clock())
    if format == "json":
        return JSONResponse({"ok": True, "report": report.to_dict()})
    name = f"bao-cao-{chosen.kind}-{chosen.first_day.isoformat()}"
    if format == "pdf":
        return Response(official_pdf(request.app.state, report), media_type=PDF,
                        headers={"Content-Disposition": f'attachment; filename="{pdf_filename(report)}"'})
    if format == "csv":
        out = io.StringIO()
        write_csv(report, out)
        return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    out = io.BytesIO()
    write_xlsx(report, out)
    return Response(out.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
