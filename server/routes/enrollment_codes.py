"""``POST /api/v1/enrollment-codes``: one-time codes for terminals that will stand at a node of the tree."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sync.enrollment import enrollment_string
from sync.protocol import ErrorEnvelope

from ..bodies import json_body, read_model
from ..dependencies import client_address, received_ns
from ..access import Caller
from ..dependencies import api_caller
from ..fleet_actions import issue_codes
from ..models import EnrollmentCodesOut, EnrollmentCodesRequest
from .tree import FLEET_ERRORS, fleet_api_error

router = APIRouter(tags=["organisation tree"])


@router.post("/enrollment-codes", status_code=201, response_model=EnrollmentCodesOut,
             summary="issue one-time enrolment codes for a counter (or an office)",
             openapi_extra=json_body(EnrollmentCodesRequest, "the node (code or #id), how many, how long they last"),
             responses={code: {"model": ErrorEnvelope} for code in (401, 403, 413, 415, 422)})
async def post_enrollment_codes(request: Request, caller: Caller = Depends(api_caller),
                                now_ns: int = Depends(received_ns)) -> JSONResponse:
    asked = await read_model(request, EnrollmentCodesRequest, max_bytes=4096)
    try:
        issued = await run_in_threadpool(issue_codes, request.app.state.engine, asked.node, count=asked.count,
                                         ttl_s=asked.expires_s, caller=caller, now_ns=now_ns,
                                         address=client_address(request))
    except FLEET_ERRORS as exc:
        raise fleet_api_error(exc) from None
    public_url = request.app.state.settings.public_url
    return JSONResponse({"ok": True, "node_id": issued.node.id, "path": issued.path, "site": issued.site,
                         "counter": issued.counter, "expires_at": issued.expires_at, "codes": issued.codes,
                         "strings": [enrollment_string(public_url, code) for code in issued.codes]
                         if public_url else None}, status_code=201)
