"""Signed releases of the terminal: pack the bundle, sign it, verify it (``kiosk-release``).

The release key's private half stays off the server (on the release officer's offline medium); terminals
hold the public half (``[updates] public_key``) and take only archives whose signed statement it verifies.

    statement = verify_release("hai-long-kiosk-1.2.0-aarch64.tar.gz",
                               Path("hai-long-kiosk-1.2.0-aarch64.tar.gz.sig").read_text(), public_key)
"""

from .archive import archive_name, make_statement, pack, read_version, sha256_file, unpack, verify_release
from .signing import PRODUCT, ReleaseError, canonical, check_signature, key_id, load_public, sign_statement

__all__ = ["PRODUCT", "ReleaseError", "archive_name", "canonical", "check_signature", "key_id", "load_public",
           "make_statement", "pack", "read_version", "sha256_file", "sign_statement", "unpack", "verify_release"]
