"""Settings changes in the audit trail: the server's settings can change only from one start to the next, so each
start compares them with the last recorded ones and records ``settings_change`` when they differ (the first start
records them all).

Secrets are never written: the database URL without its password, and of ``dashboard_secret`` and
``alert_webhook_url`` (whose path may hold a key) only the first 12 hex digits of their SHA-256, enough to see
that they changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pwd
import socket

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from .audit import Actor, lock_chain, record
from .db import write_transaction
from .schema import audit_log
from .settings import Settings

SECRET_SETTINGS = ("dashboard_secret", "alert_webhook_url")


def settings_shown(settings: Settings) -> dict:
    """Every setting as the trail keeps it (secrets as a fingerprint, the database URL without its password)."""
    shown = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.name == "db_url":
            value = make_url(value).render_as_string(hide_password=True)
        elif field.name in SECRET_SETTINGS and value:
            value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        shown[field.name] = value
    return shown


def record_settings_change(engine: Engine, settings: Settings, *, now_ns: int) -> bool:
    """Record ``settings_change`` if ``settings`` differ from the last recorded ones; whether it did.

    Under the trail's lock, so replicas starting together with the same settings record them once."""
    current = settings_shown(settings)
    with engine.connect() as conn, write_transaction(conn):
        lock_chain(conn)
        last = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "settings_change")
                            .order_by(audit_log.c.id.desc()).limit(1)).scalar()
        try:
            previous = json.loads(last).get("settings") if last else None
        except (ValueError, AttributeError):  # an edited entry: verify names it; record afresh
            previous = None
        if previous == current:
            return False
        changed = None if previous is None else {name: [previous.get(name), value] for name, value in current.items()
                                                 if previous.get(name) != value}
        actor = Actor(f"kiosk-server serve ({pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()})",
                      role="server")
        record(conn, actor=actor, action="settings_change", subject="server settings",
               details={"settings": current, "changed": changed}, now_ns=now_ns)
    return True
