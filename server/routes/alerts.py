"""``GET /api/v1/alerts`` (active and recent alerts) and ``POST /api/v1/alerts/check`` (check the rules now).

Both show only the alerts of the caller's scope (see :mod:`server.alert_scope`): a unit's dissatisfied share to
those who read its reports, a silent terminal to those who see its fleet.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope

from ..alerts import list_alerts
from ..access import Caller
from ..dependencies import caller_allowed, db_connection
from ..alert_scope import alert_scope, visible_alerts

router = APIRouter(tags=["alerts"])

_ERRORS = {401: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}, 422: {"model": ErrorEnvelope}}


class AlertOut(BaseModel):
    id: int
    rule: Literal["dissatisfied_share", "terminal_silent", "rollout_stopped"]
    subject: str = Field(description="`unit:<node id>` (dissatisfied_share of a unit), the site's name "
                                     "(dissatisfied_share of ratings that have no unit) or the terminal's id "
                                     "(terminal_silent) or `rollout #<id>` (rollout_stopped: a rollout that stopped "
                                     "by itself)")
    place: str = Field(description="where, by the organisation tree: `Tỉnh … › Phường 1` (a terminal: down to its "
                                   "counter); the site's name when there is no node")
    unit_id: int | None = Field(description="the unit of a dissatisfied_share alert (node id), else null")
    province_id: int | None = Field(description="that unit's province (node id), else null")
    fired_at: str
    cleared_at: str | None
    active: bool
    details: dict = Field(description="the figures that fired it, and `place`: the path and each level's "
                                      "`id`, `code` and `name` (`province`, `unit`, …)")
    message: str = Field(description="one sentence in Vietnamese")


class AlertsAnswer(BaseModel):
    ok: Literal[True] = True
    active: list[AlertOut] = Field(description="alerts that have not cleared, newest first")
    recent: list[AlertOut] = Field(description="alerts cleared within `recent_days`, newest first")


class AlertCheckAnswer(BaseModel):
    ok: Literal[True] = True
    fired: list[AlertOut]
    cleared: list[AlertOut]


@router.get("/alerts", response_model=AlertsAnswer, summary="active alerts and those cleared recently",
            responses=_ERRORS)
def get_alerts(request: Request, recent_days: int = Query(7, ge=0, le=366),
               caller: Caller = Depends(caller_allowed("read_alerts")),
               conn: Connection = Depends(db_connection)) -> dict:
    active, recent = list_alerts(conn, now_ns=request.app.state.clock(), recent_s=recent_days * 86400,
                                 where=alert_scope(conn, caller))
    return {"ok": True, "active": [a.to_dict() for a in active], "recent": [a.to_dict() for a in recent]}


@router.post("/alerts/check", response_model=AlertCheckAnswer, summary="check the alert rules now",
             responses=_ERRORS)
async def check_alerts(request: Request, caller: Caller = Depends(caller_allowed("check_alerts"))) -> dict:
    changes = await run_in_threadpool(request.app.state.alert_monitor.check)
    # Every rule is checked (and the webhook told) server-wide; the answer shows only the caller's scope.
    with request.app.state.engine.connect() as conn:
        return {"ok": True, "fired": [a.to_dict() for a in visible_alerts(conn, caller, changes.fired)],
                "cleared": [a.to_dict() for a in visible_alerts(conn, caller, changes.cleared)]}
