"""A release's statement (the ``.sig`` file beside the archive), read and checked as the server sees it.

The file is JSON (the issue 13 contract, made by ``kiosk-release sign``)::

    {"statement": {"product": "hai-long-kiosk", "version": "1.2.0", "arch": "aarch64",
                   "archive": "hai-long-kiosk-1.2.0-aarch64.tar.gz", "size": 41234567, "sha256": "…",
                   "created_at": "2026-12-03T08:00:00Z"},
     "key_id": "<first 16 hex of sha256(raw public key)>",
     "signature": "<base64 Ed25519 over the statement's canonical JSON>"}

The server never holds the private key. With the public key (setting ``release_public_key``) it also checks the
signature, so a release signed by another key is refused at upload rather than by every terminal.

    >>> parse_statement(b'{"statement": {}}')
    Traceback (most recent call last):
    ...
    server.release_statement.StatementError: statement.product: missing (the .sig file's statement must name it)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from .errors import ServerError

PRODUCT = "hai-long-kiosk"
ARCHES = ("aarch64", "x86_64")
#: A version goes into file names and URLs: letters, digits, dots, dashes, pluses, underscores.
VERSION_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
MAX_STATEMENT_BYTES = 16 * 1024


class StatementError(ServerError, ValueError):
    """The ``.sig`` file is not a statement this server accepts (the message names the field)."""


@dataclass(frozen=True)
class Statement:
    """A checked statement: what it says, and the file's text as uploaded (served to the terminals as is)."""

    version: str
    arch: str
    archive: str
    size: int
    sha256: str
    created_at: str
    key_id: str
    signature: bytes
    signed: dict
    text: str


def archive_name(version: str, arch: str) -> str:
    """``hai-long-kiosk-<version>-<arch>.tar.gz``.

        >>> archive_name("1.2.0", "aarch64")
        'hai-long-kiosk-1.2.0-aarch64.tar.gz'
    """
    return f"{PRODUCT}-{version}-{arch}.tar.gz"


def signed_bytes(statement: dict) -> bytes:
    """What the signature covers: the statement's canonical JSON."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id_of(raw_public_key: bytes) -> str:
    """The first 16 hex of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def parse_statement(data: bytes | str) -> Statement:
    """The statement in ``data`` (the ``.sig`` file), checked field by field; :class:`StatementError` names the
    first field at fault."""
    if isinstance(data, bytes):
        if len(data) > MAX_STATEMENT_BYTES:
            raise StatementError(f"the .sig file is {len(data)} bytes; a statement is at most {MAX_STATEMENT_BYTES}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise StatementError("the .sig file is not UTF-8 text (give the JSON file kiosk-release sign wrote)") from None
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise StatementError(f"the .sig file is not JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("statement"), dict):
        raise StatementError("statement: missing (the .sig file is a JSON object with statement, key_id, signature)")
    signed = document["statement"]

    def field(name: str, kind: type, where: str = "statement."):
        source = signed if where else document
        if name not in source:
            raise StatementError(f"{where}{name}: missing (the .sig file's statement must name it)")
        value = source[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise StatementError(f"{where}{name}: expected {kind.__name__}, got {value!r}")
        return value

    product = field("product", str)
    if product != PRODUCT:
        raise StatementError(f"statement.product: {product!r} is not {PRODUCT!r}")
    version = field("version", str)
    if not VERSION_PATTERN.fullmatch(version):
        raise StatementError(f"statement.version: {version!r} is not a version (letters, digits, . + _ -; "
                             "at most 32 characters)")
    arch = field("arch", str)
    if arch not in ARCHES:
        raise StatementError(f"statement.arch: {arch!r} is not one of {', '.join(ARCHES)}")
    archive = field("archive", str)
    if archive != archive_name(version, arch):
        raise StatementError(f"statement.archive: {archive!r} is not {archive_name(version, arch)!r}")
    size = field("size", int)
    if size <= 0:
        raise StatementError(f"statement.size: {size} is not a size in bytes")
    sha256 = field("sha256", str)
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise StatementError("statement.sha256: not 64 lower-case hex digits")
    created_at = field("created_at", str)
    key_id = field("key_id", str, "")
    if not re.fullmatch(r"[0-9a-f]{16}", key_id):
        raise StatementError("key_id: not 16 lower-case hex digits")
    try:
        signature = base64.b64decode(field("signature", str, ""), validate=True)
    except (binascii.Error, ValueError):
        raise StatementError("signature: not base64") from None
    if len(signature) != 64:
        raise StatementError(f"signature: {len(signature)} bytes; an Ed25519 signature is 64")
    return Statement(version, arch, archive, size, sha256, created_at, key_id, signature, signed, data)


def _raw_key(public_key: str) -> bytes:
    try:
        raw = base64.b64decode(public_key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise StatementError("the public key is not base64 (give the one line kiosk-release keygen wrote)") from None
    if len(raw) != 32:
        raise StatementError(f"the public key is {len(raw)} bytes; an Ed25519 public key is 32")
    return raw


def public_key_problem(public_key: str) -> str | None:
    """Why ``public_key`` is not a raw base64 Ed25519 public key, or None."""
    try:
        _raw_key(public_key)
    except StatementError as exc:
        return str(exc)
    return None


def verify_signature(statement: Statement, public_key: str) -> None:
    """Nothing if ``public_key`` signed ``statement``; else :class:`StatementError` saying so."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = _raw_key(public_key)
    if statement.key_id != key_id_of(raw):
        raise StatementError(f"key_id: the release was signed with key {statement.key_id}, not this server's "
                             f"release key {key_id_of(raw)}")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(statement.signature, signed_bytes(statement.signed))
    except InvalidSignature:
        raise StatementError("signature: does not verify with the release key (the statement was changed, or "
                             "signed by another key)") from None
