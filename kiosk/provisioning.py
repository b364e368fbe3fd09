"""Provisioning: check the server, enrol, then write the id, address and token; and the state it leaves.

The config is edited with tomlkit so a technician's comments survive; the
token goes to its own file, readable only by its owner.
:func:`provisioning_state` is what the service screen and ``kiosk status`` show.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from sync.enrollment import check_server, enroll, enrollment_session
from sync.errors import SyncError
from sync.local import LocalRatings

from . import __version__
from .config import load_config, parse_config
from .errors import ConfigError, KioskError

UNPROVISIONED = "unprovisioned"


@dataclass(frozen=True)
class ProvisioningState:
    """What a technician needs to know about enrolment, for the service screen and ``kiosk status``.

    ``provisioned`` is True when the terminal can upload: it has a server
    address and a device token. ``words`` says the state in one sentence.
    """

    provisioned: bool
    terminal_id: str
    site: str
    counter: str
    server_url: str
    token_present: bool
    words: str


def provisioning_state(config) -> ProvisioningState:
    """Read the provisioning state of the terminal configured by ``config`` (no network, no writes).

        >>> from kiosk.config import load_config
        >>> provisioning_state(load_config(None)).provisioned
        False
    """
    url = config.server.url
    token_present = _token_present(Path(config.server.token_file))
    if url and token_present:
        words = f"Provisioned as {config.terminal.id}: ratings upload to {url}."
    elif url:
        words = (f"The server is set ({url}) but the device token {config.server.token_file} is missing: "
                 "provision again with `kiosk provision --force`; ratings are kept until then.")
    else:
        words = ("Not provisioned: ratings are kept on this terminal and upload once it is enrolled "
                 "with `kiosk provision`.")
    return ProvisioningState(provisioned=bool(url) and token_present, terminal_id=config.terminal.id,
                             site=config.terminal.site, counter=config.terminal.counter, server_url=url,
                             token_present=token_present, words=words)


def _token_present(path: Path) -> bool:
    try:
        return bool(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return False


def write_token(path: Path, token: str, *, owner: tuple[int, int] | None = None) -> None:
    """Write ``token`` to ``path`` with mode 0600 (and ``owner`` (uid, gid) if given), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # The folder belongs to the terminal's user, and provisioning runs as root: a file or link left at the
    # temporary name must never be followed (a link to /etc/shadow would be emptied and handed over), so
    # it is removed, and the new file is created exclusively, never through a link.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        if owner is not None:
            os.fchown(fd, *owner)
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def provision_terminal(config_path: Path, server_url: str, code: str, *, force: bool = False,
                       session=None, release_key: str | None = None) -> list[str]:
    """Check the server, enrol, and write; returns the lines to tell the technician.

    Nothing is written, and the code is not spent, unless the server answers
    ``/healthz`` with a certificate the terminal trusts (the system's CAs, or
    ``[server] ca_bundle``) and the config and token can be written. Ratings
    already stored and not yet uploaded take the new terminal id (they have
    never left this terminal, so no server knows them by the old one).
    Raises :class:`KioskError` with one sentence.
    """
    document = tomlkit.parse(config_path.read_text(encoding="utf-8")) if config_path.exists() else tomlkit.document()
    config = parse_config(document.unwrap(), source=str(config_path)) if config_path.exists() else load_config(None)
    provisioned = config.terminal.id != UNPROVISIONED and bool(config.server.url)
    if provisioned and not force:
        raise KioskError(f"this terminal is already provisioned as {config.terminal.id} with {config.server.url}; "
                         "pass --force to enrol it again (stored ratings are kept)")
    token_path = Path(config.server.token_file)
    for path in (config_path, token_path):
        _check_writable(path)
    session = session or enrollment_session(ca_bundle=config.server.ca_bundle or None)
    try:
        server_version = check_server(server_url, session=session, allow_http=config.server.allow_http)
    except SyncError as exc:
        raise KioskError(f"{exc}; nothing was written") from None
    try:
        receipt = enroll(server_url, code, session=session, app_version=__version__,
                         allow_http=config.server.allow_http)
    except SyncError as exc:
        raise KioskError(f"enrolment failed: {exc}; nothing was written") from None

    document.setdefault("terminal", tomlkit.table())
    document.setdefault("server", tomlkit.table())
    document["terminal"]["id"] = receipt.terminal_id
    document["terminal"]["site"] = receipt.site
    if receipt.counter:
        document["terminal"]["counter"] = receipt.counter
    document["server"]["url"] = server_url.strip().rstrip("/")
    if release_key:  # the public half of the release key: the only signer of updates this terminal trusts
        document.setdefault("updates", tomlkit.table())
        document["updates"]["public_key"] = release_key
    try:
        parse_config(document.unwrap(), source=str(config_path))
    except ConfigError as exc:  # enroll() checked the address already; this is a last guard
        raise KioskError(f"the server address cannot be used: {exc}") from None
    write_token(token_path, receipt.device_token, owner=_folder_owner(token_path))
    _write_config(config_path, tomlkit.dumps(document))

    where = f"{receipt.site}{', ' + receipt.counter if receipt.counter else ''}"
    lines = [
        f"Server {server_url.strip().rstrip('/')} answers (version {server_version}) and its certificate is trusted.",
        f"Enrolled as {receipt.terminal_id} ({where}).",
        f"Wrote the terminal id and server address to {config_path}.",
        f"Wrote the device token to {token_path} (readable only by {_owner(token_path)}).",
    ]
    if release_key:
        lines.append(f"Wrote the release public key to [updates] public_key of {config_path}: this terminal takes "
                     "updates signed by it only.")
    db_path = Path(config.storage.path)
    if db_path.exists():
        local = LocalRatings(db_path)
        try:
            relabelled = local.relabel_unsynced(receipt.terminal_id)
        finally:
            local.close()
        if relabelled:
            lines.append(f"{relabelled} rating(s) stored before enrolment will upload as {receipt.terminal_id}.")
    lines.append("Next: restart the terminal's app so that it starts uploading (sudo systemctl restart kiosk, "
                 "or reboot); then `kiosk status` shows the last upload.")
    return lines


def _check_writable(path: Path) -> None:
    """Refuse early (before the code is spent) when ``path`` cannot be written, e.g. without sudo."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    target = path if path.exists() else folder
    if not folder.is_dir() or not os.access(target, os.W_OK) or not os.access(folder, os.W_OK):
        raise KioskError(f"cannot write {path} as {_owner(None)}, so nothing was done: run the command "
                         "with sudo, or pass --config with a file you may change")


def _folder_owner(path: Path) -> tuple[int, int] | None:
    """Run as root (sudo), the token goes to the owner of its folder: the terminal's own user."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    folder = path.parent.stat()
    return (folder.st_uid, folder.st_gid) if folder.st_uid != 0 else None


def _write_config(path: Path, text: str) -> None:
    """Replace the config atomically, keeping its mode and owner (it may be root:hailong 0640)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # as for the token: never write through a file or link left at this name
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    if path.exists():
        old = path.stat()
        os.chmod(tmp, old.st_mode & 0o7777)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chown(tmp, old.st_uid, old.st_gid)
    os.replace(tmp, path)


def _owner(path: Path | None) -> str:
    """The user who owns ``path`` (None: who runs this), by name, else by number."""
    try:
        uid = path.stat().st_uid if path is not None else os.geteuid()
    except (OSError, AttributeError):
        return "this user"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"user {uid}"
