"""The central server's web application, built by :func:`create_app`.

Nothing lives in module globals: each call builds its own app with its own
engine, rate limiter and clock, so tests can run many side by side.

For example::

    app = create_app(Settings(db_url="sqlite:///var/server.db"))
    uvicorn.run(app)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync.protocol import API_PREFIX

from .admission import IngestGate
from .alerts import AlertMonitor
from .audit_settings import record_settings_change
from .bodies import REQUEST_SCHEMAS
from .db import open_engine, open_ingest_engine
from .dossiers import DossierRetention
from .errors import ApiError
from .ratelimit import RateLimiter
from .rollouts import RolloutBook
from .rollups import RollupRefresher
from .security_headers import SecurityHeaders
from .dashboard import mount_dashboard
from .routes import (alerts, audit, batches, enroll, enrollment_codes, health, officers, ratings, releases, reports,
                     terminal_settings, terminals, tree)
from .routes.docs import mount_api_docs
from .settings import Settings, releases_folder
from .terminal_settings import WantedVersions
from .version import SERVER_VERSION

log = logging.getLogger("hailong.server")


def create_app(settings: Settings, *, clock: Callable[[], int] = time.time_ns) -> FastAPI:
    """The app for ``settings``: its database opened and migrated, its routes mounted.

    ``clock`` returns the server's wall clock in nanoseconds since the epoch
    (``time.time_ns``); tests inject their own to check time correction, alerts and the rate limit.
    Raises :class:`~server.errors.DatabaseUnavailable` if the database cannot be opened.
    """
    engine = open_engine(settings)
    ingest_engine = open_ingest_engine(settings, engine)  # batches' own connections (server/admission.py)
    record_settings_change(engine, settings, now_ns=clock())
    monitor = AlertMonitor(engine, settings, clock)
    refresher = RollupRefresher(engine, settings.timezone)
    retention = DossierRetention(engine, settings.dossier_retention_days, clock)
    book = RolloutBook(engine, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        monitor.start()  # checks the alert rules in the background, off the ingest path
        refresher.start()  # folds ingest's deltas into the reports' rollups (rollups.py)
        retention.start()  # blanks dossier codes past dossier_retention_days, hourly (dossiers.py)
        book.start()  # moves rollouts from their first wave to all, or to done (rollouts.py)
        yield
        await book.stop()
        await retention.stop()
        await refresher.stop()
        await monitor.stop()
        ingest_engine.dispose()
        engine.dispose()

    app = FastAPI(title="Hài Lòng central server", version=SERVER_VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # FastAPI's load from a CDN: ours are served whole (routes/docs.py)
                  description="Satisfaction ratings from the terminals at one-stop counters: enrolment, "
                              "batch upload, and the administrators' pull API. Every error is "
                              '`{"ok": false, "error": "...", "field": ...}`.')
    app.state.settings = settings
    app.state.engine = engine
    # Admission control of the batch path: its gate, and its own threads and connections (twice the concurrency:
    # terminals back at their reserved turn may use up to that), so nothing else queues behind batches.
    app.state.ingest_gate = IngestGate(concurrency=settings.ingest_concurrency,
                                       max_wait_s=settings.ingest_max_wait_ms / 1000)
    app.state.ingest_engine = ingest_engine
    app.state.ingest_limiter = anyio.CapacityLimiter(2 * settings.ingest_concurrency)
    app.state.clock = clock
    app.state.alert_monitor = monitor
    app.state.rollups = refresher
    app.state.dossier_retention = retention
    app.state.wanted_settings = WantedVersions()  # the receipts' settings_version, per terminal and generation
    app.state.rollouts = book  # the running rollouts, cached for the batch receipts (rollouts.py)
    app.state.releases_folder = releases_folder(settings)
    app.state.device_tokens = {}  # token hash -> Terminal, for live tokens (see dependencies.device_terminal)
    app.state.rate_limiter = RateLimiter(rate_per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst,
                                         clock=lambda: clock() / 1e9)

    app.include_router(health.router)
    for resource in (enroll, batches, ratings, terminals, reports, alerts, tree, enrollment_codes, audit, officers,
                     terminal_settings, releases):
        app.include_router(resource.router, prefix=API_PREFIX)
    mount_api_docs(app)
    mount_dashboard(app)
    _install_error_handlers(app)
    _install_openapi(app)
    app.add_middleware(SecurityHeaders)  # on every answer: pages, exports, static files, the API
    return app


def envelope(status: int, message: str, *, field: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error answer: ``{"ok": false, "error": message, "field": field}``."""
    return JSONResponse({"ok": False, "error": message, "field": field}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return envelope(exc.status, exc.message, field=exc.field, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "header", "body")]
        field = ".".join(loc) or None
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return envelope(422, f"{field}: {message}" if field else message, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = {404: f"there is nothing at {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
        return envelope(exc.status_code, str(message), headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _database_down(_request: Request, exc: OperationalError):
        log.error("database error: %s", exc)
        return envelope(503, "the database is not answering; try again later", headers={"Retry-After": "30"})

    @app.exception_handler(PoolTimeout)
    async def _overloaded(_request: Request, exc: PoolTimeout):
        log.warning("no database connection free: %s", exc)
        return envelope(503, "the server is overloaded; try again later", headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _server_fault(_request: Request, exc: Exception):
        log.exception("unexpected error", exc_info=exc)
        return envelope(500, "the server failed on this request; the details are in the server's log")


def _install_openapi(app: FastAPI) -> None:
    """FastAPI's document, plus the request bodies the ingest routes read themselves."""
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(REQUEST_SCHEMAS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
