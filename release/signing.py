"""Release keys and signed statements (Ed25519, with ``cryptography``).

A release statement says which archive a release is (product, version, arch,
name, size, sha256, when); the release key signs its canonical JSON. The
terminal trusts the public half given at provisioning and nothing else.

    >>> private, public = new_key_pair()
    >>> statement = {"product": PRODUCT, "version": "1.2.0", "arch": "aarch64", "archive": "a.tar.gz",
    ...              "size": 3, "sha256": "0" * 64, "created_at": "2026-12-03T08:00:00Z"}
    >>> signed = sign_statement(statement, private)
    >>> check_signature(signed, public_key_text(public)) == statement
    True
    >>> key_id(public) == signed["key_id"]
    True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: What every statement names as its product.
PRODUCT = "hai-long-kiosk"
#: The statement's fields, all required, no other.
STATEMENT_FIELDS = ("product", "version", "arch", "archive", "size", "sha256", "created_at")
#: A version as terminals report it (sync.protocol.APP_VERSION_MAX) and as file names can carry it.
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_~-]{0,31}$")
ARCHES = ("aarch64", "x86_64")


class ReleaseError(ValueError):
    """A release that cannot be trusted or used, said in one plain sentence."""


def canonical(statement: dict) -> bytes:
    """The bytes the signature covers.

        >>> canonical({"b": 1, "a": "ừ"})
        b'{"a":"\\xe1\\xbb\\xab","b":1}'
    """
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_key_pair() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    private = Ed25519PrivateKey.generate()
    return private, private.public_key()


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(public: Ed25519PublicKey) -> str:
    """The public key as terminals are given it: the raw 32 bytes in base64, one line."""
    return base64.b64encode(raw_public(public)).decode()


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of sha256 of the raw public key: names the key without giving it."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def private_pem(private: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as exc:  # encrypted without a passphrase, or the other way round
        raise ReleaseError(f"the private key cannot be opened: {exc}") from None
    except ValueError:
        raise ReleaseError("the private key is not a PEM private key (or the passphrase is wrong)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError("the private key is not an Ed25519 key (make one with `kiosk-release keygen`)")
    return key


def load_public(text: str | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """The public key from its one-line base64 form (as ``kiosk-release keygen`` writes it)."""
    if isinstance(text, Ed25519PublicKey):
        return text
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ReleaseError("the public key is not base64 (give the one line from `kiosk-release keygen`)") from None
    if len(raw) != 32:
        raise ReleaseError(f"the public key is {len(raw)} bytes, not the 32 of an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_statement(statement: dict, private: Ed25519PrivateKey) -> dict:
    """The ``.sig`` document: the statement, the key's id and the signature (base64)."""
    check_statement(statement)
    return {"statement": statement, "key_id": key_id(private.public_key()),
            "signature": base64.b64encode(private.sign(canonical(statement))).decode()}


def check_statement(statement) -> dict:
    """The statement's fields are there, of the right kind, and nothing else."""
    if not isinstance(statement, dict):
        raise ReleaseError("the release statement is not a JSON object")
    missing = [name for name in STATEMENT_FIELDS if name not in statement]
    if missing:
        raise ReleaseError(f"the release statement lacks {', '.join(missing)}")
    extra = sorted(set(statement) - set(STATEMENT_FIELDS))
    if extra:
        raise ReleaseError(f"the release statement has unknown fields: {', '.join(extra)}")
    if statement["product"] != PRODUCT:
        raise ReleaseError(f"the release is for {statement['product']!r}, not {PRODUCT}")
    version = statement["version"]
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise ReleaseError(f"version: {version!r} is not a release version (letters, digits and .+_~-, "
                           "at most 32)")
    if statement["arch"] not in ARCHES:
        raise ReleaseError(f"arch: {statement['arch']!r} is not one of {', '.join(ARCHES)}")
    size = statement["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ReleaseError(f"size: {size!r} is not a number of bytes")
    if not isinstance(statement["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", statement["sha256"]):
        raise ReleaseError("sha256: not 64 lowercase hex digits")
    if not isinstance(statement["archive"], str) or "/" in statement["archive"]:
        raise ReleaseError("archive: not a file name")
    return statement


def parse_signed(document) -> dict:
    """The ``.sig`` document from its JSON (text, bytes or already a dict)."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError):
            raise ReleaseError("the release statement is not JSON") from None
    if not isinstance(document, dict) or set(document) != {"statement", "key_id", "signature"}:
        raise ReleaseError("the release statement must hold exactly statement, key_id and signature")
    return document


def check_signature(document, public_key) -> dict:
    """The statement, once its signature by ``public_key`` is checked; :class:`ReleaseError` otherwise."""
    document = parse_signed(document)
    public = load_public(public_key)
    statement = check_statement(document["statement"])
    if document["key_id"] != key_id(public):
        raise ReleaseError(f"the release is signed by key {document['key_id']!r}, not by this terminal's release "
                           f"key {key_id(public)}")
    try:
        signature = base64.b64decode(str(document["signature"]), validate=True)
        public.verify(signature, canonical(statement))
    except (binascii.Error, ValueError, InvalidSignature):
        raise ReleaseError("the release statement's signature is not valid: it was changed after signing "
                           "or signed by another key") from None
    return statement
