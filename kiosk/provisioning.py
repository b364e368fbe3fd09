"""Provisioning: enrol with the server, then write the id, address and token.

The config is edited with tomlkit so a technician's comments survive; the
token goes to its own file, readable only by its owner.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomlkit

from sync.enrollment import enroll
from sync.errors import SyncError
from sync.local import LocalRatings
from sync.uploader import make_session

from . import __version__
from .config import load_config, parse_config
from .errors import ConfigError, KioskError

UNPROVISIONED = "unprovisioned"


def write_token(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` with mode 0600, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def provision_terminal(config_path: Path, server_url: str, code: str, *, force: bool = False,
                       session=None) -> list[str]:
    """Enrol and write; returns the lines to tell the technician.

    Nothing is written unless the server enrolled the terminal. Ratings
    already stored and not yet uploaded take the new terminal id (they have
    never left this terminal, so no server knows them by the old one).
    """
    document = tomlkit.parse(config_path.read_text(encoding="utf-8")) if config_path.exists() else tomlkit.document()
    config = parse_config(document.unwrap(), source=str(config_path)) if config_path.exists() else load_config(None)
    provisioned = config.terminal.id != UNPROVISIONED and bool(config.server.url)
    if provisioned and not force:
        raise KioskError(f"this terminal is already provisioned as {config.terminal.id} with {config.server.url}; "
                         "pass --force to enrol it again (stored ratings are kept)")
    try:
        receipt = enroll(server_url, code, session=session or make_session(
            ca_bundle=config.server.ca_bundle or None), app_version=__version__,
            allow_http=config.server.allow_http)
    except SyncError as exc:
        raise KioskError(f"enrolment failed: {exc}") from None

    token_path = Path(config.server.token_file)
    write_token(token_path, receipt.device_token)
    document.setdefault("terminal", tomlkit.table())
    document.setdefault("server", tomlkit.table())
    document["terminal"]["id"] = receipt.terminal_id
    document["terminal"]["site"] = receipt.site
    if receipt.counter:
        document["terminal"]["counter"] = receipt.counter
    document["server"]["url"] = server_url.rstrip("/")
    try:
        parse_config(document.unwrap(), source=str(config_path))
    except ConfigError as exc:  # e.g. plain http to another machine without allow_http
        raise KioskError(f"the server address cannot be used: {exc}") from None
    config_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = config_path.with_name(config_path.name + ".tmp")
    tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
    os.replace(tmp, config_path)

    lines = [
        f"Enrolled as {receipt.terminal_id} ({receipt.site}{', ' + receipt.counter if receipt.counter else ''}).",
        f"Wrote the terminal id and server address to {config_path}.",
        f"Wrote the device token to {token_path} (readable only by {_owner()}).",
    ]
    db_path = Path(config.storage.path)
    if db_path.exists():
        local = LocalRatings(db_path)
        try:
            relabelled = local.relabel_unsynced(receipt.terminal_id)
        finally:
            local.close()
        if relabelled:
            lines.append(f"{relabelled} rating(s) stored before enrolment will upload as {receipt.terminal_id}.")
    lines.append("Next: restart the terminal (systemctl restart kiosk), then check `kiosk status` "
                 "and `kiosk sync --once`.")
    return lines


def _owner() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "this user"
