"""What routes ask for with ``Depends``: the database connection, the clock, the caller.

Device tokens authenticate terminals (``POST /api/v1/batches``); admin tokens
authenticate people and scripts (``GET /api/v1/ratings``, ``/terminals``) as
the account the token belongs to (:func:`api_caller`), with its role and scope.
A missing, unknown or revoked token, or one whose account is disabled, is 401;
a valid token of the other kind is 403 (the caller is known, but may not do this).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine

from .access import Caller
from .accounts import Terminal, admin_for_token, caller_for_token, secret_hash, terminal_for_token
from .errors import ApiError

device_bearer = HTTPBearer(scheme_name="DeviceToken", auto_error=False,
                           description="a terminal's device token (hl_dev_…), from POST /api/v1/enroll")
admin_bearer = HTTPBearer(scheme_name="AdminToken", auto_error=False,
                          description="an admin token (hl_adm_…), from `kiosk-server admin-token`")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def db_connection(request: Request) -> Iterator[Connection]:
    """One connection for the whole request, from the app's pool (admin routes: read, then answer)."""
    with request.app.state.engine.connect() as conn:
        yield conn


async def received_ns(request: Request) -> int:
    """The server's clock when the request came in (async: taken at once, not in a worker thread)."""
    return request.app.state.clock()


async def device_terminal(request: Request,
                          credentials: HTTPAuthorizationCredentials | None = Depends(device_bearer)) -> Terminal:
    """The terminal whose device token came with the request.

    Live tokens are remembered in the app (token hash → terminal), so a batch
    costs no lookup of its own; a revocation is still seen by the very next
    batch, because the ingest transaction updates the terminal's row only if
    it is not revoked (see ``ingest_batch``) and forgets the token otherwise.
    """
    if credentials is None:
        raise ApiError(401, "a device token is needed: Authorization: Bearer hl_dev_…", headers=_CHALLENGE)
    key = request.state.device_token_hash = secret_hash(credentials.credentials)
    terminal = request.app.state.device_tokens.get(key)
    if terminal is None:
        terminal = await run_in_threadpool(lookup_device_token, request.app.state.engine, credentials.credentials)
        request.app.state.device_tokens[key] = terminal
    return terminal


def lookup_device_token(engine: Engine, token: str) -> Terminal:
    """The live terminal of ``token``, or :class:`ApiError` 401 (unknown, revoked) or 403 (an admin token)."""
    with engine.connect() as conn:
        terminal, revoked_at = terminal_for_token(conn, token)
        if terminal is not None:
            return terminal
        if revoked_at is not None:
            raise ApiError(401, f"this terminal's token was revoked on {revoked_at}; "
                                "provision the terminal again with a new enrolment code", headers=_CHALLENGE)
        if admin_for_token(conn, token)[0] is not None:
            raise ApiError(403, "an admin token cannot do this; it needs a terminal's device token")
    raise ApiError(401, "the device token is not known to this server", headers=_CHALLENGE)


def remember_device_token(request: Request, terminal: Terminal) -> None:
    """Remember where the request's terminal stands now (it was moved since its token was looked up)."""
    request.app.state.device_tokens[request.state.device_token_hash] = terminal


def forget_device_token(request: Request) -> None:
    """Drop the request's device token from the app's memory (it was found revoked)."""
    request.app.state.device_tokens.pop(request.state.device_token_hash, None)


async def rate_limited_terminal(request: Request, terminal: Terminal = Depends(device_terminal)) -> Terminal:
    # async: no I/O, so no trip through the thread pool
    wait_s = request.app.state.rate_limiter.take(terminal.id)
    if wait_s is not None:
        retry_after = max(1, math.ceil(wait_s))
        raise ApiError(429, f"too many requests from this terminal; retry in {retry_after} s",
                       headers={"Retry-After": str(retry_after)})
    return terminal


def api_caller(credentials: HTTPAuthorizationCredentials | None = Depends(admin_bearer),
               conn: Connection = Depends(db_connection)) -> Caller:
    """The account whose admin token came with the request, as a :class:`Caller`; else :class:`ApiError`."""
    if credentials is None:
        raise ApiError(401, "an admin token is needed: Authorization: Bearer hl_adm_…", headers=_CHALLENGE)
    caller, why = caller_for_token(conn, credentials.credentials)
    if caller is not None:
        return caller
    if why is not None:
        raise ApiError(401, why, headers=_CHALLENGE)
    if terminal_for_token(conn, credentials.credentials)[0] is not None:
        raise ApiError(403, "a device token cannot do this; it needs an admin token")
    raise ApiError(401, "the admin token is not known to this server", headers=_CHALLENGE)


def admin_name(caller: Caller = Depends(api_caller)) -> str:
    """The user name of the token's account (for routes that only need someone authenticated)."""
    return caller.username
