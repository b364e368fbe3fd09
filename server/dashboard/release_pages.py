"""The dashboard's "Phiên bản" page: the uploaded releases and their rollouts, with each wave's counts.

Read-only (uploading, rolling out and stopping are the API's and ``kiosk-server release``'s): whoever sees the
fleet (``read_fleet``) sees the rollouts that reach its part of the tree; a rollout that stopped by itself shows
which first-wave terminal failed and why.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from ..access import may
from ..releases import list_releases
from ..rollouts import STATE_LABELS_VI, rollout_status
from .pages import local_time, page, require_on_page
from .session import DashboardUser, dashboard_user

router = APIRouter(include_in_schema=False)


def fleet_reader(user: DashboardUser = Depends(dashboard_user)) -> DashboardUser:
    require_on_page(user, "read_fleet")
    return user


@router.get("/releases", response_class=HTMLResponse)
def releases_page(request: Request, user: DashboardUser = Depends(fleet_reader)) -> HTMLResponse:
    with request.app.state.engine.connect() as conn:
        found = list_releases(conn)
        rollouts = rollout_status(conn, caller=user.caller)
    return page(request, "releases.html", admin=user, releases=found, rollouts=rollouts, labels=STATE_LABELS_VI,
                when=lambda iso: local_time(request, iso), may_manage=may(user.caller, "manage_releases"))
