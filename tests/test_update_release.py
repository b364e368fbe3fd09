"""kiosk-release keygen | pack | sign | verify, and release.verify_release: a tampered archive or statement,
another key, a cut download are refused with one sentence (exit 2), nothing else is trusted."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from release import ReleaseError, canonical, key_id, load_public, read_version, unpack, verify_release

CLI = [sys.executable, "-m", "release.cli"]


def run(*args, cwd, env=None):
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def fake_bundle(folder: Path) -> Path:
    bundle = folder / "dist" / "kiosk"
    (bundle / "_internal" / "kiosk").mkdir(parents=True)
    (bundle / "kiosk").write_text("#!/bin/sh\necho kiosk\n")
    (bundle / "kiosk").chmod(0o755)
    (bundle / "_internal" / "base_library.zip").write_bytes(os.urandom(4096))
    (bundle / "_internal" / "libpython.so.1.0").write_bytes(b"lib")
    os.symlink("libpython.so.1.0", bundle / "_internal" / "libpython.so")
    return bundle


@pytest.fixture()
def released(tmp_path):
    """A key pair, a packed and signed release 1.2.0 (x86_64) of a small bundle."""
    done = run("keygen", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    bundle = fake_bundle(tmp_path)
    done = run("pack", str(bundle), "--version", "1.2.0", "--arch", "x86_64", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    archive = tmp_path / "out" / "hai-long-kiosk-1.2.0-x86_64.tar.gz"
    done = run("sign", str(archive), "--key", "hai-long-release.key", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path, archive


def test_keygen_writes_a_private_key_only_its_owner_reads_and_refuses_to_overwrite(tmp_path):
    done = run("keygen", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    private = tmp_path / "hai-long-release.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    public = (tmp_path / "hai-long-release.pub").read_text().strip()
    assert len(public.splitlines()) == 1 and key_id(load_public(public)) in done.stdout
    before = private.read_bytes()
    again = run("keygen", cwd=tmp_path)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert private.read_bytes() == before


def test_pack_writes_version_into_the_archive_not_into_the_bundle(released):
    folder, archive = released
    assert read_version(archive) == "1.2.0"
    assert not (folder / "dist" / "kiosk" / "VERSION").exists()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[:2] == ["kiosk", "kiosk/VERSION"]
    assert "kiosk/_internal/libpython.so" in names
    bundle = unpack(archive, folder / "slot")
    assert (bundle / "VERSION").read_text() == "1.2.0\n"
    assert os.readlink(bundle / "_internal" / "libpython.so") == "libpython.so.1.0"
    assert os.access(bundle / "kiosk", os.X_OK)


def test_statement_has_the_contract_form_and_verifies(released):
    folder, archive = released
    document = json.loads(Path(f"{archive}.sig").read_text())
    assert set(document) == {"statement", "key_id", "signature"}
    statement = document["statement"]
    assert set(statement) == {"product", "version", "arch", "archive", "size", "sha256", "created_at"}
    assert statement["product"] == "hai-long-kiosk" and statement["archive"] == archive.name
    assert statement["size"] == archive.stat().st_size
    public = (folder / "hai-long-release.pub").read_text()
    assert verify_release(archive, Path(f"{archive}.sig").read_text(), public) == statement
    done = run("verify", str(archive), "--public-key", "hai-long-release.pub", cwd=folder)
    assert done.returncode == 0 and done.stdout.startswith("good:"), done.stderr
    # The signature covers the canonical JSON, as the contract writes it.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    import base64

    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(document["signature"]),
        json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert canonical(statement) == json.dumps(statement, sort_keys=True, separators=(",", ":"),
                                              ensure_ascii=False).encode()


def test_a_changed_byte_of_the_archive_is_refused(released):
    folder, archive = released
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    done = run("verify", str(archive), "--public-key", "hai-long-release.pub", cwd=folder)
    assert done.returncode == 2 and "sha256" in done.stderr and "changed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_cut_archive_is_refused_by_its_size(released):
    folder, archive = released
    archive.write_bytes(archive.read_bytes()[:-10])
    with pytest.raises(ReleaseError, match="bytes, the signed statement says"):
        verify_release(archive, Path(f"{archive}.sig").read_text(), (folder / "hai-long-release.pub").read_text())


def test_a_changed_statement_is_refused_by_its_signature(released):
    folder, archive = released
    sig = Path(f"{archive}.sig")
    document = json.loads(sig.read_text())
    # An attacker who replaces the archive must also change the hash it is checked against.
    document["statement"]["version"] = "9.9.9"
    with pytest.raises(ReleaseError, match="signature is not valid"):
        verify_release(archive, json.dumps(document), (folder / "hai-long-release.pub").read_text())


def test_a_release_signed_by_another_key_is_refused(released, tmp_path):
    folder, archive = released
    other = tmp_path / "other"
    other.mkdir()
    assert run("keygen", cwd=other).returncode == 0
    done = run("verify", str(archive), "--public-key", str(other / "hai-long-release.pub"), cwd=folder)
    assert done.returncode == 2 and "not by this terminal's release key" in done.stderr
    # Re-signed with the other key, still not trusted by a terminal holding the first.
    assert run("sign", str(archive), "--key", str(other / "hai-long-release.key"), cwd=folder).returncode == 0
    done = run("verify", str(archive), "--public-key", "hai-long-release.pub", cwd=folder)
    assert done.returncode == 2


def test_bad_input_is_one_sentence_and_exit_2(tmp_path):
    bundle = fake_bundle(tmp_path)
    done = run("pack", str(bundle), "--version", "1.2/0", cwd=tmp_path)
    assert done.returncode == 2 and "--version" in done.stderr
    done = run("pack", str(tmp_path), "--version", "1.2.0", cwd=tmp_path)
    assert done.returncode == 2 and "not a bundle folder" in done.stderr
    done = run("sign", "nope.tar.gz", "--key", "nokey.pem", cwd=tmp_path)
    assert done.returncode == 2 and "cannot be read" in done.stderr
    done = run("verify", "x.tar.gz", "--public-key", "AAAA", cwd=tmp_path)
    assert done.returncode == 2


def test_a_passphrase_protects_the_private_key(tmp_path):
    env = {"HAI_LONG_RELEASE_PASSPHRASE": "correct horse"}
    assert run("keygen", cwd=tmp_path, env=env).returncode == 0
    assert "ENCRYPTED" in (tmp_path / "hai-long-release.key").read_text()
    bundle = fake_bundle(tmp_path)
    assert run("pack", str(bundle), "--version", "2.0.0", "--arch", "aarch64", cwd=tmp_path).returncode == 0
    archive = "hai-long-kiosk-2.0.0-aarch64.tar.gz"
    done = run("sign", archive, "--key", "hai-long-release.key", cwd=tmp_path)
    assert done.returncode == 2 and "private key" in done.stderr
    assert run("sign", archive, "--key", "hai-long-release.key", cwd=tmp_path, env=env).returncode == 0


def test_unpack_refuses_members_outside_the_bundle_folder(tmp_path):
    evil = tmp_path / "hai-long-kiosk-1.0.0-x86_64.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="kiosk/../../escaped")
    with pytest.raises(ReleaseError):
        unpack(evil, tmp_path / "slot")
    assert not (tmp_path / "escaped").exists()
