"""Signed release archives for the server's release tests, made with ``cryptography`` directly in the issue 13
contract's format (the ``release/`` package that packs real bundles is the terminal side's).

    key = ReleaseKey()
    archive = key.release(tmp_path, "1.2.0")      # hai-long-kiosk-1.2.0-x86_64.tar.gz and its .sig beside it
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass
class Made:
    archive: Path
    sig: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.archive.read_bytes()).hexdigest()

    def statement_b64(self) -> str:
        return base64.b64encode(self.sig.read_bytes()).decode()


class ReleaseKey:
    """An Ed25519 release key: ``public`` is the raw base64 line terminals and the server are given."""

    def __init__(self):
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public = base64.b64encode(raw).decode()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, statement: dict) -> dict:
        signed = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return {"statement": statement, "key_id": self.key_id,
                "signature": base64.b64encode(self.private.sign(signed)).decode()}

    def release(self, folder: Path, version: str, *, arch: str = "x86_64", payload_bytes: int = 300_000,
                statement_changes: dict | None = None) -> Made:
        """A tar.gz holding ``kiosk/VERSION`` and ``payload_bytes`` of incompressible data, and its ``.sig``."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"hai-long-kiosk-{version}-{arch}.tar.gz"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for member, data in (("kiosk/VERSION", version.encode() + b"\n"),
                                 ("kiosk/payload.bin", os.urandom(payload_bytes))):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        archive = folder / name
        archive.write_bytes(buffer.getvalue())
        statement = {"product": "hai-long-kiosk", "version": version, "arch": arch, "archive": name,
                     "size": archive.stat().st_size, "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                     "created_at": "2026-12-03T08:00:00Z", **(statement_changes or {})}
        sig = folder / (name + ".sig")
        sig.write_text(json.dumps(self.sign(statement), ensure_ascii=False), encoding="utf-8")
        return Made(archive, sig)


def upload(server, headers: dict, made: Made, *, body: bytes | None = None):
    """``POST /api/v1/releases`` of ``made`` (or another ``body`` with its statement)."""
    return server.post("/api/v1/releases", data=made.archive.read_bytes() if body is None else body,
                       headers={**headers, "Content-Type": "application/gzip",
                                "X-Release-Statement": made.statement_b64()})


def heartbeat(server, terminal, *, app_version: str = "0.1.0", **health) -> dict:
    """A heartbeat of ``terminal`` reporting ``app_version`` (and update fields); its receipt."""
    from server_fixtures import make_batch

    answer = server.upload(terminal, make_batch([], health={"app_version": app_version, **health}))
    assert answer.status_code == 200, answer.text
    return answer.json()
