"""The "Cơ cấu tổ chức" pages: the organisation tree with its terminals, its CSV (download and import, with a
dry run), and enrolment codes for a counter.

Every action goes through :mod:`server.fleet_actions`, the same as the admin API.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from sync.enrollment import enrollment_string

from ..accounts import secret_hash
from ..access import Forbidden, may, node_in_scope
from ..dependencies import client_address
from ..fleet_actions import (MAX_CODE_TTL_S, TreeImport, import_tree, issue_codes, paths_of, place_count, places,
                             tree_branch, tree_nodes, tree_text)
from ..org_tree import KIND_WORDS, TreeError, UnknownNode, find_node, node_count, subtree_ids, tree_csv
from ..routes.tree import MAX_TREE_BYTES
from ..schema import enrollment_codes
from ..timekeeping import iso_from_ns
from .node_picker import node_picker
from .pages import _download, local_time, page, require_on_page
from .session import DashboardUser, check_csrf, dashboard_user

router = APIRouter(include_in_schema=False)

#: Lifetimes offered for enrolment codes: (seconds, words).
LIFETIMES = ((86400, "1 ngày"), (7 * 86400, "7 ngày"), (30 * 86400, "30 ngày"), (90 * 86400, "90 ngày"))
#: Above this many nodes in the caller's scope the tree page shows one branch at a time (a country has 18,626).
MAX_TREE_ROWS = 2000
#: Above this many counters and offices in the caller's scope, the form offers those of one node, found with the
#: node picker (a national tree has 15,000).
MAX_CODE_CHOICES = 500
#: Most codes the dashboard issues at once (a sheet of 100 cards is 20 pages).
MAX_DASHBOARD_CODES = 100
CHANGE_WORDS = {"added": "Thêm", "renamed": "Đổi tên", "moved": "Chuyển sang nút cha khác", "coded": "Gán mã"}


def _tree_page(request: Request, admin: DashboardUser, *, status: int = 200, at: str | None = None,
               find: str | None = None, **context) -> HTMLResponse:
    """The whole tree of the caller's scope when it has at most :data:`MAX_TREE_ROWS` nodes; else the path to the
    node browsed to (``at``) and its children, with the node picker."""
    require_on_page(admin, "read_tree")
    scope = admin.caller.scope_node_id
    picker = None
    with request.app.state.engine.connect() as conn:
        size = (node_count(conn) if scope is None else len(subtree_ids(conn, scope)))
        if size <= MAX_TREE_ROWS:
            listed = tree_nodes(conn, within=scope)
        else:
            at_id = int(at) if at and at.isdigit() and 0 < int(at) < 2**62 else None
            if at_id is not None and not node_in_scope(conn, admin.caller, at_id):
                at_id = None
            here = at_id if at_id is not None else scope
            listed = tree_branch(conn, here, top=scope)
            picker = node_picker(conn, admin.caller, current=here, find=find, top_href="/tree",
                                 href=lambda one: f"/tree?{urlencode({'at': one})}")
    return page(request, "tree.html", status=status, admin=admin, nodes=listed, kind_words=KIND_WORDS, picker=picker,
                tree_size=size,
                change_words=CHANGE_WORDS, may_import=may(admin.caller, "import_tree"),
                may_enrol=may(admin.caller, "enrol"), **{"result": None, "error": None, **context})


@router.get("/tree", response_class=HTMLResponse)
def tree_page(request: Request, at: str | None = None, find: str | None = None,
              admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    return _tree_page(request, admin, at=at, find=find)


@router.get("/export/tree.csv")
def export_tree(request: Request, admin: DashboardUser = Depends(dashboard_user)) -> Response:
    require_on_page(admin, "read_tree")
    with request.app.state.engine.connect() as conn:
        text = tree_csv(conn, within=admin.caller.scope_node_id)
    return _download(("\ufeff" + text).encode("utf-8"), "text/csv; charset=utf-8", "co-cau-to-chuc.csv")


@router.post("/tree/import", response_class=HTMLResponse)
async def tree_import(request: Request, file: UploadFile | None = File(None), action: str = Form("check"),
                      csrf: str = Form(""), admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    check_csrf(admin.csrf, csrf)
    require_on_page(admin, "import_tree")
    dry_run = action != "import"
    data = await file.read(MAX_TREE_BYTES + 1) if file is not None else b""
    if len(data) > MAX_TREE_BYTES:
        return _tree_page(request, admin, status=413,
                          error=f"Tệp lớn hơn {MAX_TREE_BYTES // (1024 * 1024)} MB. Không có gì được nhập.")
    if not data:
        return _tree_page(request, admin, status=422, error="Hãy chọn một tệp CSV (code,name,kind,parent_code).")
    name = file.filename or "tệp"
    try:
        done: TreeImport = await run_in_threadpool(
            lambda: import_tree(request.app.state.engine, tree_text(data), caller=admin.caller,
                                dry_run=dry_run, now_ns=request.app.state.clock(), source=name,
                                address=client_address(request)))
    except TreeError as exc:
        where = f"Dòng {exc.line} của {name}" if exc.line is not None else name
        return _tree_page(request, admin, status=422, error=f"{where} có lỗi: {_reason(exc)}. Không có gì được "
                                                            "nhập; hãy sửa tệp rồi thử lại.")
    except Forbidden as exc:
        return _tree_page(request, admin, status=403, error=exc.message_vi)
    return _tree_page(request, admin, result=done, file_name=name)


def _reason(exc: TreeError) -> str:
    """The error without its "line N: " (the page says the line in Vietnamese)."""
    text = str(exc)
    return text.split(": ", 1)[1] if exc.line is not None and text.startswith("line ") else text


# -- enrolment codes ----------------------------------------------------------------------------------------

def _codes_form(request: Request, admin: DashboardUser, *, node: str | None, status: int = 200,
                error: str | None = None, count: int = 1, ttl_s: int = 7 * 86400, at: str | None = None,
                find: str | None = None) -> HTMLResponse:
    """The form; on a tree of more than :data:`MAX_CODE_CHOICES` counters and offices in the caller's scope, its
    select holds those of the node browsed to (``at``, with the node picker), not every one of the tree."""
    require_on_page(admin, "enrol")
    scope = admin.caller.scope_node_id
    picker = None
    with request.app.state.engine.connect() as conn:
        if place_count(conn, within=scope) <= MAX_CODE_CHOICES:
            choices = places(conn, within=scope)
        else:
            at_id = int(at) if at and at.isdigit() and 0 < int(at) < 2**62 else None
            if at_id is not None and not node_in_scope(conn, admin.caller, at_id):
                at_id = None
            picker = node_picker(conn, admin.caller, current=at_id, find=find, top_href="/tree/codes",
                                 href=lambda one: f"/tree/codes?{urlencode({'at': one})}")
            here = at_id if at_id is not None else scope
            choices = (places(conn, within=here) if here is not None
                       and place_count(conn, within=here) <= MAX_CODE_CHOICES else [])
            wanted = _wanted(conn, admin, node)
            if wanted is not None and wanted[0] not in {one[0] for one in choices}:
                choices = [wanted, *choices]
    return page(request, "codes.html", status=status, admin=admin, choices=choices, node=node or "", error=error,
                count=count, ttl_s=ttl_s, lifetimes=LIFETIMES, max_count=MAX_DASHBOARD_CODES, issued=None,
                public_url=request.app.state.settings.public_url, picker=picker)


def _wanted(conn, admin: DashboardUser, node: str | None) -> tuple[int, str, str] | None:
    """The counter or office ``node`` names (a link from the tree page: ``#12``), as a choice, if the caller's."""
    if not node or not node.strip():
        return None
    try:
        found = find_node(conn, node)
    except UnknownNode:
        return None
    if found.kind not in ("counter", "office") or not node_in_scope(conn, admin.caller, found.id):
        return None
    return found.id, found.kind, paths_of(conn, {found.id})[found.id]


@router.get("/tree/codes", response_class=HTMLResponse)
def codes_form(request: Request, node: str | None = None, at: str | None = None, find: str | None = None,
               admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    return _codes_form(request, admin, node=node, at=at, find=find)


@router.post("/tree/codes", response_class=HTMLResponse)
async def codes_issue(request: Request, node: str = Form(""), count: int = Form(1), ttl_s: int = Form(7 * 86400),
                      csrf: str = Form(""), admin: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    check_csrf(admin.csrf, csrf)
    require_on_page(admin, "enrol")
    again = {"node": node, "count": count, "ttl_s": ttl_s}
    if not 1 <= count <= MAX_DASHBOARD_CODES:
        return _codes_form(request, admin, status=422, error=f"Số mã: từ 1 đến {MAX_DASHBOARD_CODES}.", **again)
    if not 60 <= ttl_s <= MAX_CODE_TTL_S:
        return _codes_form(request, admin, status=422, error="Thời hạn không hợp lệ.", **again)
    if not node.strip():
        return _codes_form(request, admin, status=422, error="Hãy chọn quầy sẽ đặt thiết bị.", **again)
    try:
        issued = await run_in_threadpool(issue_codes, request.app.state.engine, node, count=count, ttl_s=ttl_s,
                                         caller=admin.caller, now_ns=request.app.state.clock(),
                                         address=client_address(request))
    except UnknownNode:
        return _codes_form(request, admin, status=422, error=f"Không có nút nào có mã “{node}” trong phạm vi "
                                                             "của bạn.", **again)
    except TreeError:
        return _codes_form(request, admin, status=422, error="Thiết bị chỉ đặt ở một quầy (hoặc một bộ phận "
                                                             "Một cửa); hãy chọn một quầy.", **again)
    except Forbidden as exc:
        return _codes_form(request, admin, status=403, error=exc.message_vi, **again)
    public_url = request.app.state.settings.public_url
    cards = [{"code": code, "string": enrollment_string(public_url, code) if public_url else None}
             for code in issued.codes]
    if public_url:
        from ..enrollment_cards import qr_code

        for card in cards:
            card["qr_svg"] = qr_code(card["string"]).svg_inline(scale=3, border=4, omitsize=True)
    return page(request, "codes.html", admin=admin, issued=issued, cards=cards, public_url=public_url,
                expires_local=local_time(request, issued.expires_at), choices=[], node="", error=None)


@router.post("/tree/codes/sheet.pdf")
async def codes_sheet(request: Request, code: list[str] = Form([]), csrf: str = Form(""),
                      admin: DashboardUser = Depends(dashboard_user)) -> Response:
    """The A4 sheet of cards for codes just issued (each checked: known, unused, unexpired)."""
    check_csrf(admin.csrf, csrf)
    require_on_page(admin, "enrol")
    public_url = request.app.state.settings.public_url
    if not public_url or not code or len(code) > MAX_DASHBOARD_CODES:
        return Response("Cần public_url của máy chủ và các mã vừa cấp.", status_code=422,
                        media_type="text/plain; charset=utf-8")
    from ..enrollment_cards import EnrollmentCard, find_fonts, write_sheet_pdf

    now = iso_from_ns(request.app.state.clock())
    with request.app.state.engine.connect() as conn:
        found = {row.code_hash: row for row in conn.execute(select(enrollment_codes).where(
            enrollment_codes.c.code_hash.in_([secret_hash(one) for one in code]),
            enrollment_codes.c.used_at.is_(None), enrollment_codes.c.expires_at > now))}
    if len(found) != len(set(code)):
        return Response("Có mã không còn dùng được (đã dùng, hết hạn hoặc không có).", status_code=422,
                        media_type="text/plain; charset=utf-8")
    cards = [EnrollmentCard(site=found[secret_hash(one)].site, counter=found[secret_hash(one)].counter,
                            string=enrollment_string(public_url, one), server_url=public_url, code=one,
                            expires=local_time(request, found[secret_hash(one)].expires_at)) for one in code]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sheet.pdf"
        await run_in_threadpool(write_sheet_pdf, cards, path, fonts=find_fonts())
        data = path.read_bytes()
    return _download(data, "application/pdf", "ma-dang-ky.pdf")
