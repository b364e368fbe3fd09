"""Signed software releases of the terminal, uploaded by an administrator and kept in the releases folder.

A release is an archive (``hai-long-kiosk-<version>-<arch>.tar.gz``) and its statement (the ``.sig`` file, see
:mod:`server.release_statement`). :func:`add_release` refuses it, naming why, unless the archive's size and
SHA-256 are the statement's, the version is new and (when the server has the release key's public half) the
signature verifies; then the archive goes into the folder under its statement name and the row and the audit
entry (``release_upload``) are written in one transaction. The private key never comes near the server: the
terminals check the signature again themselves.

    with engine.connect() as conn, write_transaction(conn):
        release = add_release(conn, folder, Path("hai-long-kiosk-1.2.0-aarch64.tar.gz"), sig_text,
                              actor=cli_actor(), now_ns=time.time_ns())
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, insert, select

from .audit import Actor, record
from .errors import ServerError
from .release_statement import Statement, StatementError, parse_statement, verify_signature
from .schema import releases
from .timekeeping import iso_from_ns

#: The largest archive accepted (a PyInstaller bundle of the terminal is about 40 MB).
MAX_RELEASE_BYTES = 512 * 1024 * 1024
CHUNK = 1024 * 1024


class ReleaseRefused(ServerError, ValueError):
    """An upload refused (size or hash not the statement's, a version already there, a bad signature…);
    ``status``: the HTTP status the API answers with."""

    def __init__(self, message: str, *, status: int = 422, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


class UnknownRelease(ServerError, LookupError):
    """No release has this version."""


@dataclass(frozen=True)
class Release:
    version: str
    arch: str
    archive: str
    size: int
    sha256: str
    statement: str
    key_id: str
    signature_checked: bool
    uploaded_by: str
    uploaded_at: str

    def out(self) -> dict:
        """As the API and ``release list`` show it (without the statement's text)."""
        return {"version": self.version, "arch": self.arch, "archive": self.archive, "size": self.size,
                "sha256": self.sha256, "key_id": self.key_id, "signature_checked": self.signature_checked,
                "uploaded_by": self.uploaded_by, "uploaded_at": self.uploaded_at}


def file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in 1 MiB chunks (a 40 MB archive is never held in memory)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def check_statement(sig: bytes | str, *, public_key: str = "") -> Statement:
    """The statement of ``sig``, its signature checked when ``public_key`` is given; :class:`ReleaseRefused`
    naming the field otherwise."""
    try:
        statement = parse_statement(sig)
        if public_key.strip():
            verify_signature(statement, public_key)
    except StatementError as exc:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) and " " not in str(exc).split(":", 1)[0] else None
        raise ReleaseRefused(str(exc), field=field) from None
    return statement


def add_release(conn: Connection, folder: Path, archive: Path, sig: bytes | str, *, actor: Actor, now_ns: int,
                public_key: str = "", address: str | None = None, move: bool = False) -> Release:
    """Keep ``archive`` as the release its statement ``sig`` describes, inside the caller's write transaction.

    ``move``: the archive is a temporary file of ours (an API upload) and is moved, not copied. The file is in
    place before the row; if the transaction then fails it is removed again (see :func:`discard_archive`).
    """
    statement = check_statement(sig, public_key=public_key)
    size, sha256 = file_digest(archive)
    if size != statement.size:
        raise ReleaseRefused(f"the archive is {size} bytes but its statement says {statement.size}: "
                             "not the archive that was signed (or an interrupted copy)", field="size")
    if sha256 != statement.sha256:
        raise ReleaseRefused(f"the archive's SHA-256 is {sha256} but its statement says {statement.sha256}: "
                             "not the archive that was signed", field="sha256")
    if conn.execute(select(releases.c.version).where(releases.c.version == statement.version)).first():
        raise ReleaseRefused(f"release {statement.version} is already uploaded; a version is uploaded once "
                             "(pack a new version)", status=409, field="version")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / statement.archive
    if target.exists():  # a file left by an upload whose transaction failed: ours to replace
        target.unlink()
    _place(archive, target, move=move)
    row = {"version": statement.version, "arch": statement.arch, "archive": statement.archive, "size": size,
           "sha256": sha256, "statement": statement.text, "key_id": statement.key_id,
           "signature_checked": bool(public_key.strip()), "uploaded_by": actor.name,
           "uploaded_at": iso_from_ns(now_ns)}
    conn.execute(insert(releases).values(**row))
    record(conn, actor=actor, action="release_upload", subject=statement.version, scope=None, address=address,
           details={"arch": statement.arch, "size": size, "sha256": sha256, "key_id": statement.key_id,
                    "signature_checked": row["signature_checked"]}, now_ns=now_ns)
    return Release(**row)


def _place(source: Path, target: Path, *, move: bool) -> None:
    """Into the folder through a temporary name, so a reader never sees half an archive."""
    if move:
        os.replace(source, target)
        return
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def discard_archive(folder: Path, conn: Connection, version: str, archive: str) -> None:
    """Remove an archive placed by :func:`add_release` whose row was not committed."""
    if conn.execute(select(releases.c.version).where(releases.c.version == version)).first() is None:
        (folder / archive).unlink(missing_ok=True)


def _release(row) -> Release:
    return Release(**{name: row._mapping[name] for name in Release.__dataclass_fields__})


def find_release(conn: Connection, version: str) -> Release:
    row = conn.execute(select(releases).where(releases.c.version == version)).first()
    if row is None:
        raise UnknownRelease(f"no release has the version {version!r} (see `kiosk-server release list`)")
    return _release(row)


def list_releases(conn: Connection) -> list[Release]:
    """Every release, the newest upload first."""
    return [_release(row) for row in conn.execute(select(releases).order_by(releases.c.uploaded_at.desc(),
                                                                            releases.c.version.desc()))]


def archive_path(folder: Path, release: Release) -> Path:
    """Where the release's archive is kept (its name comes from a checked statement: no ``/`` in it)."""
    return folder / release.archive
