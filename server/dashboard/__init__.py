"""The administrators' dashboard, served at ``/``: overview of a period, fleet health, alerts, accounts, the
organisation tree.

Server-rendered (Jinja2 templates, charts as inline SVG), styled by one CSS
file the server serves itself: it works with no internet and on a phone.
People log in with their user name and password (see :mod:`.logins` and :mod:`.session`).

For example::

    mount_dashboard(app)   # done by create_app
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from html import escape

from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from . import audit_page, officer_pages, people_pages, settings_page, terminal_pages, tree_pages
from . import audit_page, officer_pages, people_pages, release_pages, terminal_pages, tree_pages
from .login_throttle import LoginThrottle
from .logins import AccountLogins
from sync.protocol import API_PREFIX

from ..access import Forbidden
from .pages import SECURITY_HEADERS, router
from .session import CsrfRejected, LoginRequired, NotAllowed, PasswordChangeRequired, Sessions, signing_key

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to ``app`` (its engine open, its settings set)."""
    settings = app.state.settings
    engine, clock = app.state.engine, app.state.clock
    app.state.dashboard_sessions = Sessions(engine, signing_key(engine, settings, clock()),
                                            max_age_s=settings.session_max_age_s, idle_s=settings.session_idle_s,
                                            clock=clock)
    app.state.login_throttle = LoginThrottle(engine, clock=clock)
    app.state.account_logins = AccountLogins(engine, clock=clock)
    app.include_router(router)
    app.include_router(audit_page.router)
    app.include_router(people_pages.router)
    app.include_router(officer_pages.router)
    app.include_router(tree_pages.router)
    app.include_router(terminal_pages.router)
    app.include_router(settings_page.router)
    app.include_router(release_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}" if target != "/" else "/login",
                                status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change_required(_request: Request, _exc: PasswordChangeRequired):
        return RedirectResponse("/account", status_code=303)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(_request: Request, exc: NotAllowed):
        return HTMLResponse('<!doctype html><html lang="vi"><meta charset="utf-8"><title>403</title>'
                            f"<p>{escape(str(exc))} Hãy hỏi quản trị viên nếu bạn cần trang này. "
                            '<a href="/">Về trang tổng quan</a>.</p></html>', status_code=403, headers=SECURITY_HEADERS)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        """A role that may not do this (:func:`server.access.require`): the API's envelope, or a page."""
        if request.url.path.startswith(API_PREFIX + "/"):
            return JSONResponse({"ok": False, "error": exc.message, "field": None}, status_code=403)
        return HTMLResponse('<!doctype html><html lang="vi"><meta charset="utf-8"><title>403</title>'
                            f"<p>{escape(exc.message_vi)} Hãy hỏi quản trị viên nếu bạn cần trang này. "
                            '<a href="/">Về trang tổng quan</a>.</p></html>', status_code=403, headers=SECURITY_HEADERS)

    @app.exception_handler(CsrfRejected)
    async def _csrf_rejected(_request: Request, _exc: CsrfRejected):
        return HTMLResponse('<!doctype html><html lang="vi"><meta charset="utf-8"><title>403</title>'
                            "<p>Biểu mẫu không hợp lệ hoặc đã hết hạn (CSRF). "
                            '<a href="/">Tải lại trang</a> rồi thử lại.</p></html>',
                            status_code=403, headers=SECURITY_HEADERS)
