"""The dashboard's pages: login, overview of a period, fleet health, alerts, and their exports.

Routes only gather figures and hand them to a template; the figures come
from :mod:`reports` (the same as the reports API and ``kiosk-admin
report``), :mod:`server.accounts` and :mod:`server.alerts`.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import and_, case, func, select

from reports import PERIOD_KINDS, PeriodError, build_report, check_filters, parse_period
from reports.figures import DETAIL_TERMINALS
from reports.labels import GROUPINGS_VI, LEVEL_LABELS, LEVELS, TREND_UNIT_LABELS_VI, reason_label, vi_int, vi_pct, vi_points
from reports.periods import KIND_LABELS_VI
from reports.render import reconcile_line, summary_vi, write_csv, write_xlsx
from reports.spreadsheet_text import csv_row
from sync.plain_text import one_line
from sync.vocabulary import round_half_up

from ..access import Caller, Forbidden, may, node_in_scope, require
from ..accounts import kept_aside_causes_words, list_terminals, terminals_within
from ..terminal_settings import add_settings_columns
from ..alerts import RULE_LABELS_VI, list_alerts, silence_cutoff, silent_condition
from ..audit import actor_of, record
from ..db import write_transaction
from ..dependencies import client_address
from ..errors import ApiError
from ..fleet_actions import check_may_see_fleet, paths_of
from ..official_report import PDF, official_pdf, pdf_filename
from ..report_sections import with_counter_sections
from ..org_tree import UnknownNode, find_node, has_tree
from ..schema import nodes, terminals
from ..alert_scope import alert_scope, visible_alerts
from ..scoped import scope_sites, scoped_source
from ..security_headers import HEADERS
from . import charts, names
from .node_picker import node_picker
from .session import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, DashboardUser, NotAllowed, check_csrf,
                      dashboard_user, set_cookie, signed_in_user)

log = logging.getLogger("hailong.server.dashboard")

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(name=names.isolated, plain_name=names.without_bidi_controls)
templates.env.globals.update(may=may, vi_int=vi_int, vi_pct=vi_pct, vi_points=vi_points, reason_label=reason_label,
                             LEVELS=LEVELS, LEVEL_LABELS=LEVEL_LABELS, RULE_LABELS=RULE_LABELS_VI, GROUPINGS_VI=GROUPINGS_VI,
                             TREND_UNIT_LABELS=TREND_UNIT_LABELS_VI)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GROUPINGS = {"site": "Đơn vị", "counter": "Quầy", "terminal": "Thiết bị"}
#: With a node of the tree picked: its lines of one level below it, by the nodes' current names.
TREE_GROUPINGS = {"children": "Cấp ngay dưới", "unit": "Xã/Phường", "office": "Bộ phận Một cửa", "counter": "Quầy",
                  "terminal": "Thiết bị"}
#: The whole server's, on a server with a tree: its provinces first, and the sites by name (as before the tree).
WHOLE_TREE_GROUPINGS = {"children": "Tỉnh/Thành phố (cấp ngay dưới)", "unit": "Xã/Phường",
                        "office": "Bộ phận Một cửa", "site": "Đơn vị (theo tên, như trước khi có cây)",
                        "counter": "Quầy", "terminal": "Thiết bị"}
#: Above this many site names (a national tree has 3,400) the overview has no site select: pick a unit in the tree.
MAX_SITE_CHOICES = 300
#: The counters of each site are listed under the ranking only when the report holds at most this many
#: terminals (a unit's, an office's, a small server's): a province's 300 terminals yes, the nation's 10,000 no.
MAX_DETAIL_TERMINALS = DETAIL_TERMINALS

#: Every dashboard page: the server's security headers (also added to every other answer by
#: :class:`server.security_headers.SecurityHeaders`), and never kept in a cache.
SECURITY_HEADERS = {**HEADERS, "Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


def allowed_user(action: str):
    """``Depends(allowed_user("read_fleet"))``: the logged-in person, once their role is known to allow
    ``action`` (see :mod:`server.access`); else a 403 page saying so. Which rows they see is their scope's."""
    def allowed(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
        require(user.caller, action)
        return user

    return allowed


def page(request: Request, name: str, *, status: int = 200, admin: DashboardUser | None = None,
         **context) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"admin": admin, "active": name.split(".")[0],
                                                          **context}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def local_time(request: Request, iso: str | None) -> str:
    """``25/11/2026 16:30`` in the server's time zone, from the protocol's ISO UTC text."""
    if not iso:
        return "—"
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return moment.astimezone(request.app.state.alert_monitor.rules.tz).strftime("%d/%m/%Y %H:%M")


def require_on_page(user: DashboardUser, action: str) -> None:
    """Nothing if ``user`` may do ``action`` (:func:`server.access.require`), else the 403 page saying so."""
    try:
        require(user.caller, action)
    except Forbidden as exc:
        raise NotAllowed(exc.message_vi) from None


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


# -- login ------------------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = page(request, "login.html", csrf=csrf, next=_safe_next(next), error=None, username="",
                    ask_code=False)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, username: str = Form(""), password: str = Form(""), code: str = Form(""),
                csrf: str = Form(""), next: str = Form("/")) -> Response:
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf)
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    shown = {"csrf": csrf, "next": _safe_next(next), "username": username.strip()[:64]}
    wait_s = await run_in_threadpool(throttle.wait_s, address)
    if wait_s:  # locked out: the password is not even looked at
        log.warning("dashboard login refused from %s: locked out for %d s more after %d wrong logins",
                    address, wait_s, await run_in_threadpool(throttle.failures, address))
        response = page(request, "login.html", status=429, ask_code=False, **shown,
                        error=f"Đã nhập sai quá nhiều lần. Hãy thử lại sau {wait_s} giây.")
        response.headers["Retry-After"] = str(wait_s)
        return response
    outcome = await run_in_threadpool(request.app.state.account_logins.attempt, username, password, code)
    if not outcome.ok:
        lock_s = 0
        if outcome.kind != "totp_needed":
            lock_s = await run_in_threadpool(throttle.failed, address)
        # The user name only when it is an account's: a password typed into that box must not reach the log.
        who = f"account {one_line(outcome.account.username)!r}" if outcome.account else "an unknown user name"
        failures = await run_in_threadpool(throttle.failures, address)
        log.warning("dashboard login failed from %s: %s for %s (%d wrong from this address in a row%s)", address,
                    outcome.kind, who, failures, f"; address locked out for {lock_s} s" if lock_s else "")
        response = page(request, "login.html", status=429 if outcome.kind == "locked" else 401, error=outcome.message,
                        ask_code=outcome.kind in ("totp_needed", "totp_wrong"), **shown)
        if outcome.kind == "locked":
            response.headers["Retry-After"] = str(outcome.locked_s)
        if outcome.kind != "totp_needed":  # asking for the second factor is no failure
            await run_in_threadpool(request.app.state.dashboard_sessions.record_failure,
                                    outcome.account.username if outcome.account else "", outcome.kind,
                                    address=address, locked_for_s=lock_s)
        return response
    await run_in_threadpool(throttle.succeeded, address)
    log.info("dashboard login from %s: account %r", address, one_line(outcome.account.username))
    cookie = await run_in_threadpool(request.app.state.dashboard_sessions.start, outcome.account.id,
                                     address=address)
    target = "/account" if outcome.account.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=request.app.state.settings.session_max_age_s)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), admin: DashboardUser = Depends(signed_in_user)) -> Response:
    check_csrf(admin.csrf, csrf)
    request.app.state.dashboard_sessions.end(admin, address=client_address(request))  # every copy of the cookie dies
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


def _safe_next(target: str | None) -> str:
    """Only a path on this server (never ``//other.host`` or ``https://…``): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# -- overview ---------------------------------------------------------------------------------------

def _node_id(text: str | None) -> int | None:
    """The node picked (an id), or a ValueError naming the field."""
    text = _blank(text)
    if text is None:
        return None
    if not text.isdigit() or not 0 < int(text) < 2**62:
        raise ValueError(f"node: {text!r} is not a node id (pick one from the list)")
    return int(text)


def _groupings(conn, caller: Caller, node_id: int | None) -> dict[str, str]:
    """What the overview can compare by, the default first: the level below the node in the tree (for the whole
    server its provinces, or the units of its only province: a province's server ranks its units); by the names
    of before the tree (site) only on a server without one, or when asked."""
    if node_id is not None or not caller.whole_server:
        return TREE_GROUPINGS
    provinces = len(conn.execute(select(nodes.c.id).where(nodes.c.kind == "province").limit(2)).all())
    if provinces == 0:
        return GROUPINGS
    if provinces == 1:
        return {"unit": WHOLE_TREE_GROUPINGS["unit"], **WHOLE_TREE_GROUPINGS}
    return WHOLE_TREE_GROUPINGS


def _report_query(request: Request, caller: Caller, period: str, on: str | None, start: str | None,
                  end: str | None, site: str | None, group_by: str | None, node: str | None = None):
    """(the Report, the query's values) — or PeriodError/ValueError for input that makes no sense."""
    node_id = _node_id(node)
    with request.app.state.engine.connect() as conn:
        groupings = _groupings(conn, caller, node_id)
    # A site picked by its name (the way of before the tree) is compared the same way by default.
    default = "site" if _blank(site) and "site" in groupings else next(iter(groupings))
    values = {"period": period, "on": _blank(on), "start": _blank(start), "end": _blank(end),
              "site": _blank(site), "node": node_id,
              "group_by": group_by if group_by in groupings else default}
    check_filters(site=values["site"])  # a FilterError, so a ValueError like a bad date
    ranged = values["period"] == "range"
    # "Today" is the app's clock's (tests inject one), in the sites' time zone.
    today = datetime.fromtimestamp(request.app.state.clock() / 1e9, request.app.state.alert_monitor.rules.tz).date()
    chosen = parse_period(values["period"], on=None if ranged else (values["on"] or today),
                          start=values["start"] if ranged else None, end=values["end"] if ranged else None,
                          tz=request.app.state.settings.timezone)
    with request.app.state.engine.connect() as conn:
        if node_id is not None and not node_in_scope(conn, caller, node_id):
            raise ValueError(f"node: no node has the id {node_id} in your part of the tree")
        # A scoped account's report is of its node (the level below it ranked) unless it picks one inside it.
        source = scoped_source(conn, caller)
        report = build_report(source, chosen, group_by=values["group_by"], site=values["site"],
                              node=node_id if node_id is not None else caller.scope_node_id)
        with_counter_sections(caller, report, source, request.app.state.settings)
    return report, values


def _overview_choices(request: Request, caller: Caller, node_id: int | None, find: str | None,
                      drill: str) -> dict:
    """The overview form's choices: the groupings, the node picker at ``node_id``, the sites (None: too many
    for a select — a server with a tree picks its units in the picker)."""
    with request.app.state.engine.connect() as conn:
        groupings = _groupings(conn, caller, node_id)
        sites = scope_sites(conn, caller)
        if len(sites) > MAX_SITE_CHOICES and has_tree(conn):
            sites = None
        picker = node_picker(conn, caller, current=node_id, find=find,
                             href=lambda one: f"/?{drill}&node={one}" if drill else f"/?node={one}",
                             top_href=f"/?{drill}")
    return {"kinds": [(k, KIND_LABELS_VI[k]) for k in PERIOD_KINDS], "sites": sites, "groupings": groupings,
            "picker": picker}


def report_terminals(data: dict) -> int:
    """How many terminals the per-site detail of a report's dict would list."""
    return sum(len(parts.get("terminals", ())) for parts in data["sites"].values())


@router.get("/", response_class=HTMLResponse, response_model=None)
def overview(request: Request, period: str = "month", on: str | None = None, start: str | None = None,
             end: str | None = None, site: str | None = None, group_by: str | None = None, node: str | None = None,
             find: str | None = None, admin: DashboardUser = Depends(dashboard_user)) -> Response:
    if not may(admin.caller, "read_reports") and may(admin.caller, "read_fleet"):
        return RedirectResponse("/fleet", status_code=303)  # a technician's home: no ratings, the fleet
    require(admin.caller, "read_reports")
    try:
        report, values = _report_query(request, admin.caller, period, on, start, end, site, group_by, node)
    except (PeriodError, ValueError) as exc:
        values = {"period": period, "on": on, "start": start, "end": end, "site": site, "group_by": group_by,
                  "node": node}
        common = _overview_choices(request, admin.caller, None, find, urlencode({"period": period}))
        return page(request, "overview.html", status=422, error=str(exc), q=values, r=None, admin=admin, **common)
    data = report.to_dict()
    query = urlencode({k: v for k, v in values.items() if v})
    # A line of the tree links to its own report: the same period, one level down.
    drill = urlencode({k: v for k, v in values.items() if v and k in ("period", "on", "start", "end")})
    common = _overview_choices(request, admin.caller, values["node"], find, drill)
    detail = report_terminals(data)
    return page(request, "overview.html", q=values, query=query, drill=drill, r=data, error=None,
                summary=summary_vi(report), reconcile=reconcile_line(report), admin=admin,
                site_detail=detail <= MAX_DETAIL_TERMINALS, detail_terminals=detail,
                levels_svg=charts.levels_chart(data["total"]),
                reasons_svg=charts.reasons_chart(data["total"], data["reasons"]),
                trend_svg=charts.trend_chart(data["trend"]),
                heatmap_svg=charts.heatmap_chart(data["heatmap"], data["heatmap_dissatisfied"]), **common)


@router.get("/export/report.{fmt}")
def export_report(request: Request, fmt: str, period: str = "month", on: str | None = None,
                  start: str | None = None, end: str | None = None, site: str | None = None,
                  group_by: str | None = None, node: str | None = None,
                  user: DashboardUser = Depends(allowed_user("export"))) -> Response:
    if fmt not in ("csv", "xlsx", "pdf"):
        return Response("csv, xlsx or pdf", status_code=404)
    try:
        report, values = _report_query(request, user.caller, period, on, start, end, site, group_by, node)
    except (PeriodError, ValueError) as exc:
        return Response(str(exc), status_code=422, media_type="text/plain; charset=utf-8")
    record_export(request, user, "report", report.total.counted,
                  {"format": fmt, "period": report.period.kind, "first_day": report.period.first_day.isoformat(),
                   "last_day": report.period.last_day.isoformat(), "group_by": values["group_by"],
                   "site": values["site"], "node": node})
    name = f"bao-cao-{report.period.kind}-{report.period.first_day.isoformat()}"
    if fmt == "pdf":
        try:
            return _download(official_pdf(request.app.state, report), PDF, pdf_filename(report))
        except ApiError as exc:  # the font is missing: say which package, in plain text like the 422 above
            return Response(exc.message, status_code=exc.status, media_type="text/plain; charset=utf-8")
    if fmt == "csv":
        out = io.StringIO()
        write_csv(report, out)
        return _download(out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", f"{name}.csv")
    out = io.BytesIO()
    write_xlsx(report, out)
    return _download(out.getvalue(), XLSX, f"{name}.xlsx")


def record_export(request: Request, user: DashboardUser, subject: str, rows: int, details: dict) -> None:
    """Record a download in the audit trail (``export``) before it is served: who, what, how many, which filters."""
    with request.app.state.engine.connect() as conn, write_transaction(conn):
        record(conn, actor=actor_of(user.caller), action="export", subject=subject, rows=rows,
               details={**details, "via": "dashboard"}, address=client_address(request),
               now_ns=request.app.state.clock())


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _csv(rows: list[list], filename: str) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # so Excel reads the Vietnamese as UTF-8
    csv.writer(out).writerows(map(csv_row, rows))
    return _download(out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", filename)


# -- fleet ------------------------------------------------------------------------------------------

#: Terminals on one page of the fleet (filtered and paged in SQL: a province has thousands).
FLEET_PAGE_SIZE = 100


#: A terminal's software update (sync.protocol.UPDATE_STATES) as the fleet page says it.
UPDATE_LABELS_VI = {"idle": "Ổn định", "downloading": "Đang tải", "ready": "Chờ cài", "trial": "Đang chạy thử",
                    "rolled_back": "⚠ Đã quay về bản cũ", "failed": "⚠ Cập nhật lỗi"}


def fleet_rows(request: Request, *, within: int | None = None, limit: int | None = None,
               offset: int = 0) -> list[dict]:
    """Terminals (standing ``within`` a node; ``limit`` from ``offset``) with their health, the path of where each
    stands, and whether it has been silent too long in opening hours."""
    monitor = request.app.state.alert_monitor
    now_ns = request.app.state.clock()
    with request.app.state.engine.connect() as conn:
        rows = add_settings_columns(conn, list_terminals(conn, within=within, limit=limit, offset=offset))
        paths = paths_of(conn, {row["node_id"] for row in rows if row["node_id"] is not None})
    # The same test as the summary's count (silence_cutoff: silent_s of opening hours before now).
    cutoff = silence_cutoff(monitor.rules, now_ns)
    for row in rows:
        row["path"] = paths.get(row["node_id"], "")
        row["revoked"] = row["revoked_at"] is not None
        row["silent"] = (not row["revoked"] and cutoff is not None
                         and (row["last_seen_at"] or row["enrolled_at"]) <= cutoff)
        row["last_seen_local"] = local_time(request, row["last_seen_at"])
        if row["clock_offset_s"] is not None:  # shown to a tenth of a second, by the one rounding rule
            row["clock_offset_s"] = round_half_up(row["clock_offset_s"], 1)
    return rows


def fleet_filter(request: Request, admin: DashboardUser, node: str | None) -> tuple[int | None, str | None]:
    """(the node id the fleet is narrowed to, an error in Vietnamese) for ``?node=`` (a code, #id or id)."""
    require_on_page(admin, "read_fleet")
    node = _blank(node)
    with request.app.state.engine.connect() as conn:
        try:
            wanted = find_node(conn, node).id if node else None
            return check_may_see_fleet(conn, admin.caller, wanted), None
        except UnknownNode:
            return None, f"Không có nút nào có mã “{node}” trong phạm vi của bạn. Chọn một đơn vị trong danh sách."


def fleet_summary(request: Request, within: int | None) -> dict:
    """Counts over every page (of the terminals standing ``within`` the node: the filter, else the caller's
    scope): terminals, silent ones, those keeping ratings aside — one SQL count, whatever the fleet's size."""
    rules = request.app.state.alert_monitor.rules
    live = terminals.c.revoked_at.is_(None)
    with request.app.state.engine.connect() as conn:
        row = conn.execute(terminals_within(select(
            func.count(), func.coalesce(func.sum(case((silent_condition(rules, request.app.state.clock()), 1),
                                                      else_=0)), 0),
            func.coalesce(func.sum(case((and_(terminals.c.kept_aside > 0, live), 1), else_=0)), 0))
            .select_from(terminals), conn, within)).one()
    return {"total": int(row[0]), "silent_count": int(row[1]), "kept_aside_count": int(row[2])}


def fleet_href(node_id: int) -> str:
    return f"/fleet?{urlencode({'node': f'#{node_id}'})}"


@router.get("/fleet", response_class=HTMLResponse)
def fleet(request: Request, node: str | None = None, page_no: int = Query(1, alias="page", ge=1, le=1_000_000),
          find: str | None = None, admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    rules = request.app.state.alert_monitor.rules
    within, error = fleet_filter(request, admin, node)
    summary = fleet_summary(request, within) if error is None else {"total": 0, "silent_count": 0,
                                                                     "kept_aside_count": 0}
    pages = max(1, -(-summary["total"] // FLEET_PAGE_SIZE))
    page_no = min(page_no, pages)
    rows = fleet_rows(request, within=within, limit=FLEET_PAGE_SIZE,
                      offset=(page_no - 1) * FLEET_PAGE_SIZE) if error is None else []
    with request.app.state.engine.connect() as conn:
        picker = node_picker(conn, admin.caller, current=within if error is None else None, find=find,
                             href=fleet_href, top_href="/fleet")
    node_q = {"node": _blank(node)} if _blank(node) else {}
    return page(request, "fleet.html", status=422 if error else 200, admin=admin, rows=rows, error=error,
                **summary, page_no=page_no, pages=pages, first=(page_no - 1) * FLEET_PAGE_SIZE + 1,
                node=_blank(node) or "", within=within, picker=picker,
                prev_url=f"/fleet?{urlencode({**node_q, 'page': page_no - 1})}" if page_no > 1 else None,
                next_url=f"/fleet?{urlencode({**node_q, 'page': page_no + 1})}" if page_no < pages else None,
                csv_url="/export/fleet.csv" + (f"?{urlencode(node_q)}" if node_q else ""),
                may_act=may(admin.caller, "move_terminal") or may(admin.caller, "revoke_terminal"),
                silent_h=rules.silent_s / 3600, hours=rules.opening_hours.describe_vi(), update_labels=UPDATE_LABELS_VI,
                now=datetime.fromtimestamp(request.app.state.clock() / 1e9, rules.tz).strftime("%d/%m/%Y %H:%M"))


@router.get("/export/fleet.csv")
def export_fleet(request: Request, node: str | None = None,
                 admin: DashboardUser = Depends(dashboard_user)) -> Response:
    within, error = fleet_filter(request, admin, node)
    if error is not None:
        return Response(error, status_code=422, media_type="text/plain; charset=utf-8")
    header = ["Thiết bị", "Đơn vị", "Quầy", "Vị trí", "Lần cuối nhận dữ liệu (UTC)", "Chờ gửi",
              "Giữ lại trên thiết bị", "Nguyên nhân giữ lại", "Phiên bản", "Lệch đồng hồ (giây)", "Lỗi gần nhất",
              "Im lặng quá lâu", "Đã thu hồi", "Cài đặt cần chạy", "Cài đặt đang chạy", "Lỗi cài đặt"]
    rows = [[r["id"], r["site"], r["counter"] or "", r["path"], r["last_seen_at"] or "", r["pending"] or 0,
             r["kept_aside"] or 0, kept_aside_causes_words(r["kept_aside_causes"]) if r["kept_aside"] else "",
             r["app_version"] or "", "" if r["clock_offset_s"] is None else r["clock_offset_s"],
             r["last_error"] or "", "có" if r["silent"] else "không", "có" if r["revoked"] else "không",
             r["settings_wanted"] or "", r["settings_applied"] or "", r["settings_error"] or ""]
            for r in fleet_rows(request, within=within)]
    record_export(request, admin, "fleet", len(rows), {"format": "csv", "node": node})
    return _csv([header, *rows], "thiet-bi.csv")


# -- alerts -----------------------------------------------------------------------------------------

def _alerts(request: Request, caller: Caller):
    with request.app.state.engine.connect() as conn:
        return list_alerts(conn, now_ns=request.app.state.clock(), where=alert_scope(conn, caller))


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, admin: DashboardUser = Depends(allowed_user("read_alerts"))) -> HTMLResponse:
    active, recent = _alerts(request, admin.caller)
    settings = request.app.state.settings
    rules = request.app.state.alert_monitor.rules
    return page(request, "alerts.html", admin=admin, active_alerts=active, recent_alerts=recent,
                when=lambda iso: local_time(request, iso), settings=settings,
                hours=rules.opening_hours.describe_vi(),
                window_min=int(round_half_up(settings.alert_window_s / 60, 0)),
                silent_h=settings.terminal_silent_s / 3600, checked=request.query_params.get("checked"))


@router.post("/alerts/check")
async def alerts_check(request: Request, csrf: str = Form(""),
                       admin: DashboardUser = Depends(allowed_user("check_alerts"))) -> Response:
    check_csrf(admin.csrf, csrf)
    changes = await run_in_threadpool(request.app.state.alert_monitor.check)
    with request.app.state.engine.connect() as conn:  # counted in the person's scope only
        fired, cleared = (len(visible_alerts(conn, admin.caller, found)) for found in (changes.fired, changes.cleared))
    return RedirectResponse(f"/alerts?checked={fired}-{cleared}", status_code=303)


@router.get("/export/alerts.csv")
def export_alerts(request: Request, user: DashboardUser = Depends(allowed_user("read_alerts"))) -> Response:
    active, recent = _alerts(request, user.caller)
    header = ["Mã", "Quy tắc", "Đối tượng", "Nơi", "Bắt đầu (UTC)", "Kết thúc (UTC)", "Nội dung"]
    rows = [[a.id, RULE_LABELS_VI.get(a.rule, a.rule), a.subject, a.place, a.fired_at, a.cleared_at or "", a.message]
            for a in [*active, *recent]]
    record_export(request, user, "alerts", len(rows), {"format": "csv"})
    return _csv([header, *rows], "canh-bao.csv")
