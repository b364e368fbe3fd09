"""The dashboard's "Nhật ký" page: the audit trail, newest first, filtered by action, actor and local dates,
and its CSV export (the export is itself recorded). Who may read it: :func:`server.audit.may_read_audit`."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from ..access import scope_nodes
from ..audit import ACTION_LABELS_VI, ACTIONS, details_text, list_entries, may_read_audit, utc_bound
from ..schema import audit_log
from .pages import _csv, local_time, page, record_export
from .session import DashboardUser, dashboard_user

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
EXPORT_PAGE = 5000
CSV_HEADER = ["Số", "Thời điểm (UTC)", "Người thực hiện", "Mã tài khoản", "Vai trò", "Hành động", "Phạm vi",
              "Đối tượng", "Số dòng", "Chi tiết", "Địa chỉ", "Mã băm trước", "Mã băm"]


def _filters(request: Request, action: str | None, actor: str | None, start: str | None, end: str | None) -> dict:
    """The query's filters for :func:`list_entries` (local dates to UTC bounds); ValueError for a bad date."""
    tz = request.app.state.settings.timezone
    days = {}
    for name, value in (("start", start), ("end", end)):
        try:
            days[name] = date.fromisoformat(value.strip()) if value and value.strip() else None
        except ValueError:
            raise ValueError(f"Ngày không hợp lệ: {value!r} (hãy chọn ngày, dạng 2026-12-01).") from None
    since = utc_bound(days["start"].isoformat(), tz) if days["start"] else None
    until = utc_bound((days["end"] + timedelta(days=1)).isoformat(), tz) if days["end"] else None
    return {"action": action if action in ACTIONS else None, "actor": (actor or "").strip() or None,
            "since": since, "until": until}


def _refused(request: Request, admin: DashboardUser) -> HTMLResponse:
    return page(request, "audit.html", status=403, admin=admin, entries=[], error="Tài khoản này không được xem "
                "nhật ký.", q={}, actions=[], query="", head=None, older=None, when=None, details=None)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, action: str | None = None, actor: str | None = None, start: str | None = None,
               end: str | None = None, before: int | None = None,
               admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    if not may_read_audit(admin.caller):
        return _refused(request, admin)
    q = {"action": action or "", "actor": actor or "", "start": start or "", "end": end or ""}
    common = {"admin": admin, "q": q, "actions": [(a, ACTION_LABELS_VI[a]) for a in ACTIONS],
              "when": lambda iso: local_time(request, iso), "details": details_text,
              "query": urlencode({k: v for k, v in q.items() if v})}
    with request.app.state.engine.connect() as conn:
        head = conn.execute(select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
        try:
            filters = _filters(request, action, actor, start, end)
        except ValueError as exc:
            return page(request, "audit.html", status=422, error=str(exc), entries=[], head=head, older=None,
                        **common)
        entries = list_entries(conn, before=before, limit=PAGE_SIZE + 1, newest_first=True,
                               within=scope_nodes(conn, admin.caller), **filters)
    older = entries[PAGE_SIZE - 1]["id"] if len(entries) > PAGE_SIZE else None
    return page(request, "audit.html", error=None, entries=entries[:PAGE_SIZE], head=head, older=older,
                labels=ACTION_LABELS_VI, **common)


@router.get("/export/audit.csv")
def export_audit(request: Request, action: str | None = None, actor: str | None = None, start: str | None = None,
                 end: str | None = None, admin: DashboardUser = Depends(dashboard_user)) -> Response:
    if not may_read_audit(admin.caller):
        return Response("Tài khoản này không được xem nhật ký.", status_code=403,
                        media_type="text/plain; charset=utf-8")
    try:
        filters = _filters(request, action, actor, start, end)
    except ValueError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain; charset=utf-8")
    rows, after = [], 0
    with request.app.state.engine.connect() as conn:
        while True:
            chunk = list_entries(conn, after=after, limit=EXPORT_PAGE, within=scope_nodes(conn, admin.caller),
                                 **filters)
            rows += [[e["id"], e["at"], e["actor"], e["actor_account_id"], e["role"], e["action"], e["scope_node_id"],
                      e["subject"], e["rows"], details_text(e["details"]), e["address"], e["prev_hash"], e["hash"]]
                     for e in chunk]
            if len(chunk) < EXPORT_PAGE:
                break
            after = chunk[-1]["id"]
    record_export(request, admin, "audit", len(rows), {"format": "csv", **{k: v for k, v in filters.items() if v}})
    return _csv([CSV_HEADER, *rows], "nhat-ky.csv")
