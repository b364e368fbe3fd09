"""Signed software releases: the administrators' ``/api/v1/releases`` and ``/api/v1/rollouts``, and the terminals'
``/api/v1/terminal/releases/{version}`` (statement) and ``…/archive`` (the bytes, with HTTP Range).

Upload: ``POST /api/v1/releases`` with the archive as the raw body (``Content-Type: application/gzip``) and its
``.sig`` file in the ``X-Release-Statement`` header, base64-encoded (one request, the archive streamed to disk,
never held in memory)::

    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/gzip" \\
         -H "X-Release-Statement: $(base64 -w0 hai-long-kiosk-1.2.0-aarch64.tar.gz.sig)" \\
         --data-binary @hai-long-kiosk-1.2.0-aarch64.tar.gz https://hailong.example.vn/api/v1/releases
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from sync.protocol import ErrorEnvelope

from ..access import Caller, Forbidden, require
from ..accounts import Terminal
from ..audit import actor_of
from ..bodies import json_body, read_model
from ..db import write_transaction
from ..dependencies import api_caller, client_address, db_connection, rate_limited_terminal, received_ns
from ..errors import ApiError
from ..release_statement import VERSION_PATTERN, StatementError, parse_statement
from ..releases import (MAX_RELEASE_BYTES, ReleaseRefused, UnknownRelease, add_release, archive_path,
                        discard_archive, find_release, list_releases)
from ..rollouts import RolloutRefused, rollout_status, start_rollout, stop_rollout

router = APIRouter(tags=["releases"])

STATEMENT_HEADER = "X-Release-Statement"
ARCHIVE_TYPES = ("application/gzip", "application/x-gzip", "application/octet-stream")
_ERRORS = {code: {"model": ErrorEnvelope} for code in (401, 403, 404, 409, 413, 415, 422)}


class RolloutStart(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    node: str | None = Field(default=None, min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$",
                             description="the node (its code or #id) whose terminals get the release; "
                                         "absent: the whole fleet (a scoped account: its own node)")
    wave_pct: int = Field(default=100, ge=1, le=100, description=(
        "the share of the terminals in the first wave, in %; the rest get it once the first wave is healthy "
        "(100: everyone at once)"))


class RolloutStop(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(default=None, max_length=500, description="why, for the record")


class ReleaseOut(BaseModel):
    version: str
    arch: str
    archive: str
    size: int
    sha256: str
    key_id: str
    signature_checked: bool = Field(description="the signature was checked with the server's release_public_key")
    uploaded_by: str
    uploaded_at: str


class ReleasesList(BaseModel):
    ok: Literal[True] = True
    releases: list[ReleaseOut]


class WaveCounts(BaseModel):
    terminals: int
    updated: int = Field(description="running the release")
    failed: int = Field(description="reported it rolled back or failed")
    updating: int = Field(description="downloading, ready or in trial with it")


class RolloutOut(WaveCounts):
    id: int
    version: str
    node_id: int | None
    target: str
    wave_pct: int
    state: Literal["first_wave", "all", "stopped", "done"]
    started_by: str
    started_at: str
    all_at: str | None
    ended_at: str | None
    stopped_by: str | None
    stopped_reason: str | None = Field(description="why it stopped (by itself: the first-wave terminal and its reason)")
    first_wave: WaveCounts


class RolloutsList(BaseModel):
    ok: Literal[True] = True
    rollouts: list[RolloutOut]


def _refused(exc: ReleaseRefused | RolloutRefused) -> ApiError:
    return ApiError(exc.status, str(exc), field=exc.field)


def _version(version: str) -> str:
    if not VERSION_PATTERN.fullmatch(version):
        raise ApiError(404, f"no release has the version {version!r}")
    return version


def _managing(caller: Caller) -> Caller:
    require(caller, "manage_releases")
    return caller


# -- administrators ------------------------------------------------------------------------------------------

@router.post("/releases", status_code=201, summary="upload a signed release: the archive as the body, its .sig "
             f"file base64-encoded in {STATEMENT_HEADER}",
             openapi_extra={"requestBody": {"required": True, "description": (
                 "the archive's bytes (Content-Type application/gzip or application/octet-stream)"), "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                 "parameters": [{"name": STATEMENT_HEADER, "in": "header", "required": True,
                                 "schema": {"type": "string"},
                                 "description": "the .sig file (JSON) made by kiosk-release sign, base64"}]},
             responses=_ERRORS)
async def post_release(request: Request, caller: Caller = Depends(api_caller),
                       now_ns: int = Depends(received_ns)) -> JSONResponse:
    _managing(caller)
    if not caller.whole_server:
        raise Forbidden(f"the account {caller.username!r} may not upload releases (it needs the whole server as "
                        "its scope); releases are for every terminal",
                        f"Tài khoản {caller.username} không được tải lên phiên bản phần mềm (cần phạm vi toàn máy chủ).")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ARCHIVE_TYPES:
        raise ApiError(415, f"the body must be the archive (Content-Type: application/gzip), not {kind or 'nothing'!r}")
    try:
        sig = base64.b64decode(request.headers.get(STATEMENT_HEADER, ""), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{STATEMENT_HEADER}: not base64 (base64 -w0 of the .sig file)",
                       field=STATEMENT_HEADER) from None
    if not sig:
        raise ApiError(422, f"{STATEMENT_HEADER}: missing; send the .sig file base64-encoded in this header",
                       field=STATEMENT_HEADER)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_RELEASE_BYTES:
        raise ApiError(413, f"the archive is {declared} bytes; at most {MAX_RELEASE_BYTES} are accepted")
    folder: Path = request.app.state.releases_folder
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:  # streamed to disk chunk by chunk
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_RELEASE_BYTES:
                    raise ApiError(413, f"the archive is over {MAX_RELEASE_BYTES} bytes")
                out.write(chunk)
        settings = request.app.state.settings

        def store():
            with request.app.state.engine.connect() as conn:
                try:
                    with write_transaction(conn):
                        return add_release(conn, folder, Path(temporary), sig, actor=actor_of(caller), now_ns=now_ns,
                                           public_key=settings.release_public_key, address=client_address(request),
                                           move=True)
                except BaseException:
                    try:  # an archive placed for a row that was not committed goes again
                        statement = parse_statement(sig)
                    except StatementError:
                        statement = None
                    if statement is not None:
                        discard_archive(folder, conn, statement.version, statement.archive)
                    raise
        try:
            release = await run_in_threadpool(store)
        except ReleaseRefused as exc:
            raise _refused(exc) from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return JSONResponse({"ok": True, "release": release.out()}, status_code=201)


@router.get("/releases", response_model=ReleasesList, summary="the uploaded releases, the newest first",
            responses=_ERRORS)
def get_releases(caller: Caller = Depends(api_caller), conn: Connection = Depends(db_connection)) -> JSONResponse:
    require(caller, "read_fleet")  # whoever sees the fleet sees what it is offered
    return JSONResponse({"ok": True, "releases": [release.out() for release in list_releases(conn)]})


async def _write(request: Request, change):
    def run():
        with request.app.state.engine.connect() as conn, write_transaction(conn):
            return change(conn)
    try:
        done = await run_in_threadpool(run)
    except (RolloutRefused, ReleaseRefused) as exc:
        raise _refused(exc) from None
    except UnknownRelease as exc:
        raise ApiError(404, str(exc), field="version") from None
    request.app.state.rollouts.changed()  # the receipts offer it (or stop offering it) at once
    return done


@router.post("/releases/{version}/rollouts", status_code=201, response_model=RolloutOut,
             summary="roll a release out to the fleet or a node: all at once, or a first wave then the rest",
             openapi_extra=json_body(RolloutStart, "the node (absent: the fleet) and the first wave's share"),
             responses=_ERRORS)
async def post_rollout(request: Request, version: str, caller: Caller = Depends(api_caller),
                       now_ns: int = Depends(received_ns)) -> JSONResponse:
    _managing(caller)
    asked = await read_model(request, RolloutStart, max_bytes=2048)
    status = await _write(request, lambda conn: start_rollout(
        conn, _version(version), node=asked.node, wave_pct=asked.wave_pct, actor=actor_of(caller), caller=caller,
        now_ns=now_ns, address=client_address(request)))
    return JSONResponse({"ok": True, **status}, status_code=201)


@router.post("/releases/{version}/stop", response_model=RolloutsList,
             summary="stop every running rollout of a release (in the caller's scope)",
             openapi_extra=json_body(RolloutStop, "why (optional)"), responses=_ERRORS)
async def post_stop(request: Request, version: str, caller: Caller = Depends(api_caller),
                    now_ns: int = Depends(received_ns)) -> JSONResponse:
    _managing(caller)
    asked = await read_model(request, RolloutStop, max_bytes=2048)
    stopped = await _write(request, lambda conn: stop_rollout(
        conn, _version(version), actor=actor_of(caller), caller=caller, now_ns=now_ns, reason=asked.reason,
        address=client_address(request)))
    return JSONResponse({"ok": True, "rollouts": stopped})


@router.get("/rollouts", response_model=RolloutsList, summary="the rollouts (of one release) and their wave counts",
            responses=_ERRORS)
def get_rollouts(version: str | None = Query(None, max_length=32), caller: Caller = Depends(api_caller),
                 conn: Connection = Depends(db_connection)) -> JSONResponse:
    require(caller, "read_fleet")
    return JSONResponse({"ok": True, "rollouts": rollout_status(conn, version=version, caller=caller)})


# -- terminals -----------------------------------------------------------------------------------------------

def _offered(request: Request, conn: Connection, terminal: Terminal, version: str):
    """The release, if a running rollout of it has this terminal's wave open; else 404 / 403."""
    try:
        release = find_release(conn, _version(version))
    except UnknownRelease:
        raise ApiError(404, f"no release has the version {version!r}") from None
    if not any(r.version == version and r.open_to(terminal) for r in request.app.state.rollouts.active()):
        raise ApiError(403, f"release {version} is not offered to this terminal (no running rollout of it "
                            "includes it yet)")
    return release


@router.get("/terminal/releases/{version}", tags=["terminals"],
            summary="a release's statement (its .sig file, JSON) for a terminal a rollout offers it to",
            responses={code: {"model": ErrorEnvelope} for code in (401, 403, 404, 429)})
def get_terminal_release(request: Request, version: str, terminal: Terminal = Depends(rate_limited_terminal),
                         conn: Connection = Depends(db_connection)) -> Response:
    release = _offered(request, conn, terminal, version)
    return Response(release.statement, media_type="application/json",
                    headers={"ETag": f'"{release.sha256}"', "Cache-Control": "private, no-cache"})


@router.get("/terminal/releases/{version}/archive", tags=["terminals"],
            summary="a release's archive, resumable with Range (206; 416 past its end); ETag is its SHA-256",
            responses={200: {"content": {"application/gzip": {}}}, 206: {"description": "the range asked"},
                       416: {"description": "the range starts past the end"},
                       **{code: {"model": ErrorEnvelope} for code in (401, 403, 404, 429)}})
def get_terminal_archive(request: Request, version: str, terminal: Terminal = Depends(rate_limited_terminal),
                         conn: Connection = Depends(db_connection)) -> Response:
    release = _offered(request, conn, terminal, version)
    path = archive_path(request.app.state.releases_folder, release)
    if not path.is_file():
        raise ApiError(404, f"the archive of release {version} is missing from the server's releases folder; "
                            "upload it again")
    # Starlette streams the file in 64 KiB chunks and answers Range itself (206, multipart, 416, If-Range).
    return FileResponse(path, media_type="application/gzip", filename=release.archive,
                        headers={"ETag": f'"{release.sha256}"', "Cache-Control": "private, no-cache"})
