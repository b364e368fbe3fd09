"""Officers (cán bộ): ``/api/v1/officers`` for administrators, ``GET /api/v1/terminal/officers`` for terminals.

Administrators (``manage_officers``: province and unit admins, in their scope) add officers to a unit, change
their name, counters, PIN (kept only as a hash) and photo, and disable them; every change is in the audit
trail. Readers (``read_officers``) list them. A terminal fetches the active officers of its unit with its
device token, when the version in its batch receipts differs from its own (``ETag`` / ``If-None-Match``:
304 when nothing changed).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

from sync.protocol import ErrorEnvelope

from ..access import Caller, require
from ..accounts import Terminal
from ..bodies import json_body, read_body, read_model
from ..db import write_transaction
from ..dependencies import api_caller, client_address, db_connection, rate_limited_terminal, received_ns
from ..errors import ApiError
from ..officer_actions import add_officer, change_photo, edit_officer
from ..officers import (KEEP, PHOTO_MAX_BYTES, PHOTO_TYPES, Officer, OfficerRefused, list_officers,
                        officers_version, terminal_officers, unit_in_scope)
from ..schema import terminals

router = APIRouter(tags=["officers"])

_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
#: An officer's id in a path: a number the databases hold (anything else is 422, never a database error).
OfficerId = Annotated[int, Path(ge=0, le=2**63 - 1, description="the officer's id")]
_CounterRef = Annotated[str, Field(min_length=1, max_length=80, pattern=_NO_CONTROL)]


class OfficerOut(BaseModel):
    id: int
    unit_id: int = Field(description="the unit (a node of the tree) the officer belongs to")
    code: str = Field(description="the staff code on the badge, unique in the unit")
    name: str
    counters: list[int] = Field(description="the counters (node ids) the officer may serve at; empty: every one")
    active: bool = Field(description="false: disabled (no longer sent to the terminals; the ratings keep it)")
    has_pin: bool
    has_photo: bool
    created_at: str
    updated_at: str


class OfficersList(BaseModel):
    ok: Literal[True] = True
    officers: list[OfficerOut]


class OfficerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    unit: str = Field(min_length=1, max_length=80, pattern=_NO_CONTROL, description="the unit: its code or #id")
    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9._-]+$",
                      description="the staff code on the badge (what the badge holds after CB)")
    name: str = Field(min_length=1, max_length=200)
    counters: list[_CounterRef] = Field(default_factory=list, max_length=100,
                                description="the counters (codes or #id) the officer may serve at; empty: every one")
    pin: str | None = Field(default=None, description="4–8 digits for signing in on the touchscreen; kept as a hash")


class OfficerChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    counters: list[_CounterRef] | None = Field(default=None, max_length=100,
                                                description="the counters (codes or #id); empty: every one")
    active: bool | None = Field(default=None, description="false disables the officer, true enables again")
    pin: str | None = Field(default=None, description="a new PIN (4–8 digits); null clears it; absent keeps it")


class OfficerChanged(BaseModel):
    ok: Literal[True] = True
    officer: OfficerOut


class TerminalOfficer(BaseModel):
    code: str
    name: str
    pin_hash: str | None = Field(description="pbkdf2_sha256$rounds$salt$hash (kiosk/service_pin.py's scheme)")
    counters: list[str] = Field(description="names of the counters the officer may serve at; empty: every one")
    photo: str | None = Field(description="a JPEG or PNG in base64")


class TerminalOfficers(BaseModel):
    version: str = Field(description="also the ETag; the batch receipts' officers_version")
    dossier_retention_days: int = Field(description="blank a synced rating's and invitation's dossier after this")
    officers: list[TerminalOfficer] = Field(description="the active officers of the terminal's unit")


def _out(officer: Officer) -> dict:
    return {"id": officer.id, "unit_id": officer.unit_id, "code": officer.code, "name": officer.name,
            "counters": list(officer.counters), "active": officer.active, "has_pin": officer.has_pin,
            "has_photo": officer.has_photo, "created_at": officer.created_at, "updated_at": officer.updated_at}


def _refused(exc: OfficerRefused) -> ApiError:
    return ApiError(exc.status, f"{exc.field}: {exc}" if exc.field else str(exc), field=exc.field)


async def _write(request: Request, change):
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    try:
        return await run_in_threadpool(run)
    except OfficerRefused as exc:
        raise _refused(exc) from None


@router.get("/officers", response_model=OfficersList, summary="the officers of the units in scope",
            responses={code: {"model": ErrorEnvelope} for code in (401, 403, 422)})
def get_officers(unit: str | None = Query(None, max_length=80, pattern=_NO_CONTROL,
                                          description="only this unit's: its code or #id"),
                 caller: Caller = Depends(api_caller), conn: Connection = Depends(db_connection)) -> JSONResponse:
    require(caller, "read_officers")
    try:
        unit_id = unit_in_scope(conn, caller, unit) if unit else None
    except OfficerRefused as exc:
        raise _refused(exc) from None
    return JSONResponse({"ok": True, "officers": [_out(o) for o in list_officers(conn, caller, unit_id=unit_id)]})


@router.post("/officers", status_code=201, response_model=OfficerChanged, summary="add an officer to a unit",
             openapi_extra=json_body(OfficerCreate, "the unit, staff code, name, counters and optional PIN"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 413, 415, 422)})
async def post_officer(request: Request, caller: Caller = Depends(api_caller),
                       now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, OfficerCreate, max_bytes=8192)
    made = await _write(request, lambda conn: add_officer(
        conn, caller, unit=asked.unit, code=asked.code, name=asked.name, counters=asked.counters, pin=asked.pin,
        now_ns=now_ns, address=client_address(request)))
    return JSONResponse({"ok": True, "officer": _out(made)}, status_code=201)


@router.post("/officers/{officer_id}", response_model=OfficerChanged,
             summary="change an officer: name, counters, PIN, disabled or enabled",
             openapi_extra=json_body(OfficerChange, "only the fields to change"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 413, 415, 422)})
async def post_officer_change(request: Request, officer_id: OfficerId, caller: Caller = Depends(api_caller),
                              now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, OfficerChange, max_bytes=8192)
    pin = asked.pin if "pin" in asked.model_fields_set else KEEP
    done = await _write(request, lambda conn: edit_officer(
        conn, caller, officer_id, name=asked.name, counters=asked.counters, active=asked.active, pin=pin,
        now_ns=now_ns, address=client_address(request)))
    return JSONResponse({"ok": True, "officer": _out(done)})


@router.put("/officers/{officer_id}/photo", response_model=OfficerChanged,
            summary=f"set an officer's photo: a JPEG or PNG body of at most {PHOTO_MAX_BYTES // 1024} KB",
            openapi_extra={"requestBody": {"required": True, "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in PHOTO_TYPES.values()}}},
            responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 413, 415, 422)})
async def put_officer_photo(request: Request, officer_id: OfficerId, caller: Caller = Depends(api_caller),
                            now_ns: int = Depends(received_ns)) -> JSONResponse:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data = await read_body(request, max_bytes=PHOTO_MAX_BYTES,
                           media_type=kind if kind in PHOTO_TYPES.values() else "image/jpeg")
    done = await _write(request, lambda conn: change_photo(conn, caller, officer_id, data, now_ns=now_ns,
                                                           address=client_address(request)))
    return JSONResponse({"ok": True, "officer": _out(done)})


@router.delete("/officers/{officer_id}/photo", response_model=OfficerChanged, summary="remove an officer's photo",
               responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404)})
async def delete_officer_photo(request: Request, officer_id: OfficerId, caller: Caller = Depends(api_caller),
                               now_ns: int = Depends(received_ns)) -> JSONResponse:
    done = await _write(request, lambda conn: change_photo(conn, caller, officer_id, None, now_ns=now_ns,
                                                           address=client_address(request)))
    return JSONResponse({"ok": True, "officer": _out(done)})


def _etag_matches(header: str | None, version: str) -> bool:
    """Whether ``If-None-Match`` names ``version`` (quoted or not, weak or not, or ``*``)."""
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    return "*" in tags or version in tags


@router.get("/terminal/officers", response_model=TerminalOfficers, tags=["terminals"],
            summary="the officers of this terminal's unit (device token); 304 when If-None-Match is its version",
            responses={304: {"description": "the list is the version the terminal holds"},
                       **{code: {"model": ErrorEnvelope} for code in (401, 403, 429)}})
def get_terminal_officers(request: Request, terminal: Terminal = Depends(rate_limited_terminal),
                          conn: Connection = Depends(db_connection)) -> Response:
    # Where it stands now (a move since its token was remembered changes its unit).
    unit_id = conn.execute(select(terminals.c.unit_id).where(terminals.c.id == terminal.id)).scalar()
    days = request.app.state.settings.dossier_retention_days
    version = officers_version(conn, unit_id, retention_days=days)  # without the photos: a 304 reads none
    if _etag_matches(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers={"ETag": f'"{version}"', "Cache-Control": "no-cache"})
    listed = terminal_officers(conn, unit_id, retention_days=days)
    return JSONResponse(listed, headers={"ETag": f'"{listed["version"]}"', "Cache-Control": "no-cache"})
