"""The administrators' dashboard, served at ``/``: overview of a period, fleet health, alerts, the organisation
tree.

Server-rendered (Jinja2 templates, charts as inline SVG), styled by one CSS
file the server serves itself: it works with no internet and on a phone.
Administrators log in once with an admin token (see :mod:`.session`).

For example::

    mount_dashboard(app)   # done by create_app
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from . import terminal_pages, tree_pages
from .pages import SECURITY_HEADERS, router
from .login_throttle import LoginThrottle
from .session import CsrfRejected, LoginRequired, Sessions, signing_key

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to ``app`` (its engine open, its settings set)."""
    settings = app.state.settings
    engine, clock = app.state.engine, app.state.clock
    app.state.dashboard_sessions = Sessions(engine, signing_key(engine, settings, clock()),
                                            max_age_s=settings.session_max_age_s, clock=clock)
    app.state.login_throttle = LoginThrottle(engine, clock=clock)
    app.include_router(router)
    app.include_router(tree_pages.router)
    app.include_router(terminal_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}" if target != "/" else "/login",
                                status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf_rejected(_request: Request, _exc: CsrfRejected):
        return HTMLResponse('<!doctype html><html lang="vi"><meta charset="utf-8"><title>403</title>'
                            "<p>Biểu mẫu không hợp lệ hoặc đã hết hạn (CSRF). "
                            '<a href="/">Tải lại trang</a> rồi thử lại.</p></html>',
                            status_code=403, headers=SECURITY_HEADERS)
