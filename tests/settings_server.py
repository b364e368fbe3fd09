"""A small real server for the terminal's side of remote settings (issue 13), on uvicorn.

It speaks the protocol of ``sync.protocol`` exactly (every batch is validated with :class:`Batch`, every answer
built with :class:`BatchReceipt` / :class:`TerminalSettingsSet`) and keeps what a test wants to look at: the
health each batch carried, the settings fetches and their ``If-None-Match``. The central server's own settings
(scopes, history, the CLI) are another branch's; this one holds one effective set for its one terminal.

    server = SettingsServer(token="t0k3n")
    live = LiveServer(server.app)
    server.set_values({"feedback.thanks_s": 5})      # the next receipt wants the new version
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sync.protocol import Ack, Batch, BatchReceipt, TerminalSettingsSet


def settings_version(values: dict) -> str:
    """The contract's version: first 16 hex of sha256 of the canonical JSON of the effective values."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class SettingsServer:
    """One terminal's batches and settings. ``down`` answers 500 to batches (no quick retries): the terminal is as
    if offline."""

    def __init__(self, *, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.values: dict | None = None
        self.healths: list[dict] = []
        self.fetches: list[str | None] = []   # the If-None-Match of each GET /terminal/settings
        self.stored: set[str] = set()
        self.down = False
        self.settings_status: int | None = None  # e.g. 500: the settings endpoint fails
        self.app = self._build()

    @property
    def version(self) -> str | None:
        return None if self.values is None else settings_version(self.values)

    def set_values(self, values: dict) -> str:
        with self.lock:
            self.values = dict(values)
            return settings_version(self.values)

    def last_health(self) -> dict | None:
        with self.lock:
            return self.healths[-1] if self.healths else None

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/v1/batches")
        async def batches(request: Request):
            if not self._authorised(request):
                return JSONResponse({"ok": False, "error": "unknown token"}, status_code=401)
            if self.down:
                return JSONResponse({"ok": False, "error": "down for the test"}, status_code=500)
            try:
                batch = Batch.model_validate_json(await request.body())
            except ValidationError as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, status_code=422)
            with self.lock:
                self.healths.append(batch.health.model_dump(exclude_none=True))
                acks = []
                for rating in batch.ratings:
                    status = "duplicate" if str(rating.id) in self.stored else "stored"
                    self.stored.add(str(rating.id))
                    acks.append(Ack(id=rating.id, status=status))
                receipt = BatchReceipt(acks=acks, received_at=datetime.now(timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"), clock_offset_s=0.0, settings_version=self.version)
            return Response(receipt.model_dump_json(exclude_none=True), media_type="application/json")

        @app.get("/api/v1/terminal/settings")
        async def settings(request: Request):
            if not self._authorised(request):
                return JSONResponse({"ok": False, "error": "unknown token"}, status_code=401)
            with self.lock:
                self.fetches.append(request.headers.get("if-none-match"))
                if self.settings_status is not None:
                    return JSONResponse({"ok": False, "error": "failing for the test"},
                                        status_code=self.settings_status)
                values = self.values or {}
                version = settings_version(values)
            etag = f'"{version}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            body = TerminalSettingsSet(version=version, values=values).model_dump_json()
            return Response(body, media_type="application/json", headers={"ETag": etag})

        return app
