"""The dashboard's pages about people: "Tài khoản của tôi" (own password, TOTP) and "Người dùng" (accounts).

Every form carries the session's CSRF token. The accounts page lists the accounts of
the administrator's part of the tree and changes those within its reach
(:mod:`server.account_reach`; inspectors read it without the forms); an
administrator cannot disable, reset or re-role their own account here, so
nobody locks the server's last administrator out by a click.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete

from sync.plain_text import one_line

from .. import second_factor
from ..access import ROLE_LABELS_VI, may, scope_nodes
from ..account_audit import record_account
from ..account_reach import (WHOLE_SERVER, accounts_changed_by, accounts_seen, check_role_and_scope,
                             managed_account, roles_given, scope_choices, scope_from_form, scope_words)
from ..audit import actor_of
from ..db import write_transaction
from ..dependencies import client_address
from ..passwords import MIN_LENGTH
from ..people import (AccountRefused, change_password, create_account, find_account, locked_for_s,
                      one_time_password, reset_password, set_disabled, set_role_scope, turn_totp_off, turn_totp_on)
from ..schema import dashboard_sessions
from ..accounts import secret_hash
from .pages import local_time, page, require_on_page, templates
from .session import DashboardUser, check_csrf, dashboard_user, signed_in_user

log = logging.getLogger("hailong.server.dashboard")

router = APIRouter(include_in_schema=False)
templates.env.globals.update(ROLE_LABELS=ROLE_LABELS_VI)

#: How long the QR code of a TOTP enrolment stays usable (the secret travels signed in the form, not stored).
ENROLMENT_MAX_AGE_S = 600

DONE = {"password": "Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc.",
        "totp-on": "Đã bật xác thực hai bước.", "totp-off": "Đã tắt xác thực hai bước."}


async def _write(request: Request, change):
    """``change(conn)`` in one write transaction, off the event loop; its result."""
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    return await run_in_threadpool(run)


# -- my account ------------------------------------------------------------------------------------------

def _scope_label(request: Request, node_id: int | None) -> str:
    with request.app.state.engine.connect() as conn:
        return scope_words(conn, {node_id})[node_id][1] if node_id is not None else WHOLE_SERVER


def _account_page(request: Request, user: DashboardUser, *, status: int = 200, **errors) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done", ""))
    return page(request, "account.html", status=status, admin=user, done=done, min_length=MIN_LENGTH,
                scope_label=_scope_label(request, user.caller.scope_node_id),
                password_error=errors.get("password_error"), totp_error=errors.get("totp_error"))


@router.get("/account", response_class=HTMLResponse)
def my_account(request: Request, user: DashboardUser = Depends(signed_in_user)) -> HTMLResponse:
    return _account_page(request, user)


@router.post("/account/password", response_class=HTMLResponse)
async def my_password(request: Request, csrf: str = Form(""), old: str = Form(""), new: str = Form(""),
                      repeat: str = Form(""), user: DashboardUser = Depends(signed_in_user)) -> Response:
    check_csrf(user.csrf, csrf)

    def change(conn) -> None:
        now_ns = request.app.state.clock()
        change_password(conn, user.caller.account_id, old=old, new=new, repeat=repeat, now_ns=now_ns)
        _record_own(request, conn, user, {"password": "changed"}, now_ns)
        # Whoever else holds a session of this account (a stolen cookie, a forgotten computer) is out.
        conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.account_id == user.caller.account_id,
                                                      dashboard_sessions.c.id_hash != secret_hash(user.session_id)))
    try:
        await _write(request, change)
    except AccountRefused as exc:
        return _account_page(request, user, status=422, password_error=str(exc))
    log.info("account %r changed its password", one_line(user.caller.username))
    return RedirectResponse("/account?done=password", status_code=303)


def _record_own(request: Request, conn, user: DashboardUser, details: dict, now_ns: int) -> None:
    """An owner's change to their own account (password, second factor) in the audit trail: what, never the
    secret."""
    record_account(conn, actor=actor_of(user.caller), action="account_change",
                   account=find_account(conn, account_id=user.caller.account_id), details=details,
                   address=client_address(request), now_ns=now_ns)


def _record(request: Request, conn, user: DashboardUser, action: str, account, details: dict, now_ns: int) -> None:
    """An administrator's change to another account in the audit trail (its scope: the account's, after the
    change)."""
    record_account(conn, actor=actor_of(user.caller), action=action, account=account, details=details,
                   address=client_address(request), now_ns=now_ns)


def _enrolment_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.dashboard_sessions.serializer.secret_key,
                                  salt="hailong-totp-enrolment")


def _enrolment_page(request: Request, user: DashboardUser, secret: str, *, error: str | None = None,
                    status: int = 200) -> HTMLResponse:
    uri = second_factor.provisioning_uri(secret, user.caller.username)
    pending = _enrolment_signer(request).dumps({"a": user.caller.account_id, "s": secret})
    return page(request, "account_totp.html", status=status, admin=user, uri=uri, qr_svg=second_factor.qr_svg(uri),
                secret_spaced=second_factor.spaced(secret), pending=pending, error=error)


@router.get("/account/totp", response_class=HTMLResponse)
def totp_enrolment(request: Request, user: DashboardUser = Depends(dashboard_user)) -> HTMLResponse:
    return _enrolment_page(request, user, second_factor.new_secret())


@router.post("/account/totp", response_class=HTMLResponse)
async def totp_on(request: Request, csrf: str = Form(""), pending: str = Form(""), code: str = Form(""),
                  user: DashboardUser = Depends(dashboard_user)) -> Response:
    check_csrf(user.csrf, csrf)
    try:
        data = _enrolment_signer(request).loads(pending, max_age=ENROLMENT_MAX_AGE_S)
    except BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("a") != user.caller.account_id or not isinstance(data.get("s"), str):
        return _account_page(request, user, status=422,
                             totp_error="Mã QR đã hết hạn (10 phút). Hãy bấm “Bật xác thực hai bước” lại.")
    try:
        def change(conn) -> None:
            now_ns = request.app.state.clock()
            turn_totp_on(conn, user.caller.account_id, data["s"], code, now_ns=now_ns)
            _record_own(request, conn, user, {"totp": "on"}, now_ns)
        await _write(request, change)
    except AccountRefused as exc:
        return _enrolment_page(request, user, data["s"], error=str(exc), status=422)
    log.info("account %r turned TOTP on", one_line(user.caller.username))
    return RedirectResponse("/account?done=totp-on", status_code=303)


@router.post("/account/totp/off", response_class=HTMLResponse)
async def totp_off(request: Request, csrf: str = Form(""), password: str = Form(""),
                   user: DashboardUser = Depends(dashboard_user)) -> Response:
    check_csrf(user.csrf, csrf)
    try:
        def change(conn) -> None:
            turn_totp_off(conn, user.caller.account_id, password=password)
            _record_own(request, conn, user, {"totp": "off"}, request.app.state.clock())
        await _write(request, change)
    except AccountRefused as exc:
        return _account_page(request, user, status=422, totp_error=str(exc))
    log.info("account %r turned TOTP off", one_line(user.caller.username))
    return RedirectResponse("/account?done=totp-off", status_code=303)


# -- the accounts page -------------------------------------------------------------------------------------
#
# Who sees and changes which accounts, and which role and scope they may give: server.account_reach. A role
# without read_accounts gets the 403 page; an account outside the scope, the 404 of the page; one above the
# administrator's reach, 403 with the reason.

def accounts_reader(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    """A role that reads accounts (``Depends``): administrators, and inspectors read-only; anyone else gets 403."""
    require_on_page(user, "read_accounts")
    return user


def accounts_admin(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    """A role that manages accounts (``Depends``); anyone else gets the 403 page."""
    require_on_page(user, "manage_accounts")
    return user


def _accounts_page(request: Request, user: DashboardUser, *, status: int = 200, error: str | None = None,
                   form: dict | None = None, shown_password: dict | None = None) -> HTMLResponse:
    caller = user.caller
    with request.app.state.engine.connect() as conn:
        inside = scope_nodes(conn, caller)  # the tree is read once for the page
        listed = accounts_seen(conn, caller, inside)
        choices = scope_choices(conn, caller, inside) if may(caller, "manage_accounts") else None
        names = scope_words(conn, {a.scope_node_id for a in listed} | {caller.scope_node_id})
        managed = accounts_changed_by(caller, listed, inside)
    now_ns = request.app.state.clock()
    own_scope = names[caller.scope_node_id][0]
    return page(request, "accounts.html", status=status, admin=user, accounts=listed, roles=roles_given(caller),
                error=error, scopes=choices, scope_names=names, managed=managed,
                may_manage=may(caller, "manage_accounts"), own_scope=own_scope,
                form=form or {"role": "viewer", "scope": own_scope}, shown_password=shown_password,
                locked={a.id: s for a in listed if (s := locked_for_s(a, now_ns))}, when=lambda iso: local_time(request, iso))


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, user: DashboardUser = Depends(accounts_reader)) -> HTMLResponse:
    return _accounts_page(request, user)


@router.post("/accounts/new", response_class=HTMLResponse)
async def new_account(request: Request, csrf: str = Form(""), username: str = Form(""), display_name: str = Form(""),
                      role: str = Form("viewer"), scope: str = Form(""),
                      user: DashboardUser = Depends(accounts_admin)) -> Response:
    check_csrf(user.csrf, csrf)
    password = one_time_password()
    try:
        def make(conn):
            now_ns = request.app.state.clock()
            scope_node_id = scope_from_form(conn, user.caller, scope)
            check_role_and_scope(conn, user.caller, role, scope_node_id)
            made = create_account(conn, username=username, display_name=display_name, role=role,
                                  scope_node_id=scope_node_id, password=password, now_ns=now_ns)
            _record(request, conn, user, "account_create", made, {"role": made.role, "scope": made.scope_node_id},
                    now_ns)
            return made
        made = await _write(request, make)
    except AccountRefused as exc:
        form = {"username": username, "display_name": display_name, "role": role, "scope": scope}
        return _accounts_page(request, user, status=exc.status, error=str(exc), form=form)
    log.info("account %r (%s) created by %r", one_line(made.username), made.role, one_line(user.caller.username))
    return _accounts_page(request, user, status=201, shown_password={
        "what": f"Đã tạo tài khoản {made.username}.", "username": made.username, "password": password})


async def _change(request: Request, user: DashboardUser, csrf: str, account_id: int, change) -> tuple:
    """Run ``change(conn, target)`` on another account inside the administrator's reach; (result, None) or
    (None, the error page: 404 outside the scope, 403 above the reach, 422 otherwise)."""
    check_csrf(user.csrf, csrf)
    if account_id == user.caller.account_id:
        return None, _accounts_page(request, user, status=422,
                                    error="Không thể tự thay đổi tài khoản của mình ở đây (xem “Tài khoản của tôi”).")

    def run(conn):
        target = managed_account(conn, user.caller, account_id)
        return target, change(conn, target)
    try:
        return await _write(request, run), None
    except AccountRefused as exc:
        return None, _accounts_page(request, user, status=exc.status, error=str(exc))


@router.post("/accounts/{account_id}/disable")
@router.post("/accounts/{account_id}/enable")
async def disable_account(request: Request, account_id: int, csrf: str = Form(""),
                          user: DashboardUser = Depends(accounts_admin)) -> Response:
    disable = request.url.path.endswith("/disable")

    def change(conn, target):
        now_ns = request.app.state.clock()
        done = set_disabled(conn, target.id, disable, now_ns=now_ns)
        _record(request, conn, user, "account_change", done,
                {"disabled": disable, "was_disabled": target.disabled_at is not None}, now_ns)
        return done
    done, error_page = await _change(request, user, csrf, account_id, change)
    if error_page:
        return error_page
    log.info("account %r %s by %r", one_line(done[0].username), "disabled" if disable else "enabled",
             one_line(user.caller.username))
    return RedirectResponse("/accounts", status_code=303)


@router.post("/accounts/{account_id}/reset", response_class=HTMLResponse)
async def reset_account(request: Request, account_id: int, csrf: str = Form(""),
                        user: DashboardUser = Depends(accounts_admin)) -> Response:
    def change(conn, target):
        now_ns = request.app.state.clock()
        password = reset_password(conn, target.id, now_ns=now_ns)
        _record(request, conn, user, "password_reset", target, {"one_time": True, "drop_totp": False}, now_ns)
        return password
    done, error_page = await _change(request, user, csrf, account_id, change)
    if error_page:
        return error_page
    target, password = done
    log.info("password of account %r reset by %r", one_line(target.username), one_line(user.caller.username))
    return _accounts_page(request, user, shown_password={
        "what": f"Đã đặt lại mật khẩu của {target.username}; các phiên đăng nhập của tài khoản này đã kết thúc.",
        "username": target.username, "password": password})


@router.post("/accounts/{account_id}/role")
async def role_account(request: Request, account_id: int, csrf: str = Form(""), role: str = Form(""),
                       scope: str = Form(""), sees_officers: str = Form(""),
                       user: DashboardUser = Depends(accounts_admin)) -> Response:
    def change(conn, target):
        scope_node_id = scope_from_form(conn, user.caller, scope)
        check_role_and_scope(conn, user.caller, role, scope_node_id)
        # Only a viewer needs the flag (the other roles that read ratings see officers anyway; issue 12).
        done = set_role_scope(conn, target.id, role=role, scope_node_id=scope_node_id,
                              sees_officers=role == "viewer" and bool(sees_officers))
        # The entry is seen from the new scope (where the account now is); the flag only where it was or is set.
        flag = target.sees_officers or done.sees_officers
        _record(request, conn, user, "role_change", done, {
            "from": {"role": target.role, "scope": target.scope_node_id,
                     **({"sees_officers": target.sees_officers} if flag else {})},
            "to": {"role": done.role, "scope": done.scope_node_id,
                   **({"sees_officers": done.sees_officers} if flag else {})}},
            request.app.state.clock())
        return done
    done, error_page = await _change(request, user, csrf, account_id, change)
    if error_page:
        return error_page
    log.info("account %r given role %s, scope %s by %r", one_line(done[0].username), role, scope or "all",
             one_line(user.caller.username))
    return RedirectResponse("/accounts", status_code=303)
