"""``POST /api/v1/enroll``: a one-time enrolment code buys a terminal id and a device token.

Answers 201 with :class:`~sync.protocol.EnrollmentReceipt`. A code that is
unknown is 401, already used 409, expired 410, each with a message a
technician can act on.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from sync.protocol import Enrollment, EnrollmentReceipt, ErrorEnvelope

from ..accounts import EnrollmentRefused, code_label, enroll_terminal
from ..audit import Actor, record
from ..bodies import json_body, read_model
from ..db import write_transaction
from ..dependencies import client_address, received_ns
from ..errors import ApiError

router = APIRouter(tags=["terminals"])

MAX_ENROLLMENT_BYTES = 4096


@router.post("/enroll", status_code=201, response_model=EnrollmentReceipt,
             summary="enrol a terminal with a one-time code",
             openapi_extra=json_body(Enrollment, "the code printed by `kiosk-server enroll-code`"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 409, 410, 413, 415, 422)})
async def enroll(request: Request, now_ns: int = Depends(received_ns)) -> EnrollmentReceipt:
    enrollment = await read_model(request, Enrollment, max_bytes=MAX_ENROLLMENT_BYTES)
    if enrollment.app_version is not None and "\x00" in enrollment.app_version:
        raise ApiError(422, "app_version: contains a NUL character", field="app_version")
    return await run_in_threadpool(_enroll, request.app.state.engine, enrollment, now_ns, client_address(request))


def _enroll(engine: Engine, enrollment: Enrollment, now_ns: int, address: str | None) -> EnrollmentReceipt:
    try:
        with engine.connect() as conn, write_transaction(conn):
            new = enroll_terminal(conn, enrollment.code, app_version=enrollment.app_version, now_ns=now_ns)
            record(conn, actor=Actor(new.terminal_id, role="terminal"), action="enroll", subject=new.terminal_id,
                   details={"site": new.site, "counter": new.counter, "code": code_label(enrollment.code),
                            "app_version": enrollment.app_version}, address=address, now_ns=now_ns)
    except EnrollmentRefused as exc:
        raise ApiError(exc.status, str(exc), field="code") from None
    return EnrollmentReceipt(terminal_id=new.terminal_id, device_token=new.device_token, site=new.site,
                             counter=new.counter)
