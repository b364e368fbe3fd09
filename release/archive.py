"""Release archives: the PyInstaller folder ``kiosk/`` with its ``VERSION``, packed, checked, unpacked.

    hai-long-kiosk-<version>-<arch>.tar.gz     the archive (``kiosk/VERSION`` is its first member)
    hai-long-kiosk-<version>-<arch>.tar.gz.sig the signed statement (release.signing)

    >>> archive_name("1.2.0", "aarch64")
    'hai-long-kiosk-1.2.0-aarch64.tar.gz'
    >>> name_parts("hai-long-kiosk-1.2.0-rc1-x86_64.tar.gz")
    ('1.2.0-rc1', 'x86_64')
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import re
import tarfile
from datetime import datetime, timezone
from pathlib import Path

from .signing import ARCHES, PRODUCT, VERSION_PATTERN, ReleaseError, check_signature, check_statement

#: The folder inside the archive, as kiosk.spec names the bundle.
BUNDLE = "kiosk"
_NAME = re.compile(rf"^{PRODUCT}-(?P<version>.+)-(?P<arch>{'|'.join(ARCHES)})\.tar\.gz$")


def archive_name(version: str, arch: str) -> str:
    return f"{PRODUCT}-{version}-{arch}.tar.gz"


def name_parts(name: str) -> tuple[str, str]:
    match = _NAME.match(Path(name).name)
    if not match:
        raise ReleaseError(f"{Path(name).name}: not a release archive name ({PRODUCT}-<version>-<arch>.tar.gz)")
    return match["version"], match["arch"]


def this_arch() -> str:
    """The machine's arch as releases name it (``uname -m``: aarch64 on a 64-bit Pi)."""
    machine = platform.machine().lower()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pack(bundle_dir: str | Path, *, version: str, arch: str | None = None, out_dir: str | Path = ".",
         compresslevel: int = 6) -> Path:
    """Pack the bundle folder (``dist/kiosk``) with ``VERSION`` = ``version`` into ``out_dir``.

    The bundle folder itself is left as it is: ``kiosk/VERSION`` is written into the archive's copy (first,
    so that a reader finds it without going through the rest); a ``VERSION`` already in the folder is
    replaced. Symbolic links stay links (PyInstaller's are relative, inside the bundle).
    """
    bundle = Path(bundle_dir)
    arch = arch or this_arch()
    if not VERSION_PATTERN.match(version):
        raise ReleaseError(f"--version: {version!r} is not a release version (letters, digits and .+_~-, at most 32)")
    if arch not in ARCHES:
        raise ReleaseError(f"--arch: {arch!r} is not one of {', '.join(ARCHES)}")
    if not (bundle / "kiosk").is_file():
        raise ReleaseError(f"{bundle}: not a bundle folder (no kiosk executable in it; build one with `make bundle`)")
    out = Path(out_dir) / archive_name(version, arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with tarfile.open(part, "w:gz", compresslevel=compresslevel, format=tarfile.PAX_FORMAT) as tar:
        data = f"{version}\n".encode()
        info = tarfile.TarInfo(f"{BUNDLE}/VERSION")
        info.size, info.mode, info.mtime = len(data), 0o644, int(datetime.now(timezone.utc).timestamp())
        tar.add(bundle, arcname=BUNDLE, recursive=False)
        tar.addfile(info, io.BytesIO(data))
        for root, dirs, files in os.walk(bundle):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = Path(root) / name
                rel = path.relative_to(bundle).as_posix()
                if rel == "VERSION":  # the one written above stands
                    continue
                tar.add(path, arcname=f"{BUNDLE}/{rel}", recursive=False)
    os.replace(part, out)
    return out


def make_statement(archive: str | Path, *, created_at: str | None = None) -> dict:
    """The statement of ``archive`` (version and arch from its name, checked against its ``VERSION``)."""
    archive = Path(archive)
    version, arch = name_parts(archive.name)
    inside = read_version(archive)
    if inside != version:
        raise ReleaseError(f"{archive.name}: its VERSION says {inside!r}, its name {version!r}")
    return check_statement({
        "product": PRODUCT, "version": version, "arch": arch, "archive": archive.name,
        "size": archive.stat().st_size, "sha256": sha256_file(archive),
        "created_at": created_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })


def read_version(archive: str | Path) -> str:
    """The ``kiosk/VERSION`` inside an archive."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name.rstrip("/") == f"{BUNDLE}/VERSION" and member.isfile():
                    return tar.extractfile(member).read().decode("utf-8", "replace").strip()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ReleaseError(f"{Path(archive).name}: not a readable tar.gz archive ({exc})") from None
    raise ReleaseError(f"{Path(archive).name}: no {BUNDLE}/VERSION inside (pack it with `kiosk-release pack`)")


def verify_release(archive: str | Path, statement_json, public_key) -> dict:
    """Check that ``archive`` is the release the signed statement names; its statement, else :class:`ReleaseError`.

    The signature first (by ``public_key``), then the file's size and sha256 against the statement.
    """
    statement = check_signature(statement_json, public_key)
    archive = Path(archive)
    try:
        size = archive.stat().st_size
    except OSError as exc:
        raise ReleaseError(f"the archive {archive} cannot be read ({exc.strerror})") from None
    if size != statement["size"]:
        raise ReleaseError(f"the archive is {size} bytes, the signed statement says {statement['size']}: "
                           "a cut or changed download")
    digest = sha256_file(archive)
    if digest != statement["sha256"]:
        raise ReleaseError(f"the archive's sha256 is {digest[:16]}…, the signed statement says "
                           f"{statement['sha256'][:16]}…: the archive was changed")
    return statement


def unpack(archive: str | Path, dest: str | Path) -> Path:
    """Unpack the archive into the empty folder ``dest``; the bundle's folder (``dest/kiosk``).

    Only regular files, folders and links that stay inside ``dest`` (tarfile's ``data`` filter); each file
    is flushed to disk, so that a power cut after the switch cannot leave a half-written program.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name != BUNDLE and not member.name.startswith(f"{BUNDLE}/"):
                    raise ReleaseError(f"the archive holds {member.name!r}, outside the {BUNDLE}/ folder")
                tar.extract(member, dest, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise ReleaseError(f"the archive cannot be unpacked ({exc})") from None
    for root, _dirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    return dest / BUNDLE
