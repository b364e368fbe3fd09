"""``kiosk-release keygen | pack | sign | verify``: the release officer's tool (never run on the server).

    kiosk-release keygen                       # hai-long-release.key (0600) + hai-long-release.pub
    kiosk-release pack dist/kiosk --version 1.2.0 --arch aarch64
    kiosk-release sign hai-long-kiosk-1.2.0-aarch64.tar.gz --key /media/usb/hai-long-release.key
    kiosk-release verify hai-long-kiosk-1.2.0-aarch64.tar.gz --public-key hai-long-release.pub

Bad input (a missing file, a wrong key, a tampered archive) is one sentence and exit status 2.
A passphrase for the private key is read from $HAI_LONG_RELEASE_PASSPHRASE when set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .archive import make_statement, pack, verify_release
from .signing import ReleaseError, key_id, load_private, load_public, new_key_pair, private_pem, public_key_text, \
    sign_statement

PASSPHRASE_ENV = "HAI_LONG_RELEASE_PASSPHRASE"


class BadInput(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"kiosk-release: {self.format_message()}", err=True)


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"{what} {path} cannot be read ({exc.strerror})") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Hài Lòng terminal releases: keys, archives, signatures."""


@cli.command()
@click.option("--private", "private_path", default="hai-long-release.key", show_default=True,
              help="Where to write the private key (PEM, mode 0600). Keep it OFF the server.")
@click.option("--public", "public_path", default="hai-long-release.pub", show_default=True,
              help="Where to write the public key (one line of base64, for `kiosk provision --release-key`).")
def keygen(private_path, public_path):
    """Make a new release key pair (Ed25519)."""
    for path in (private_path, public_path):
        if Path(path).exists():
            raise BadInput(f"{path} exists already; a release key is never overwritten (move it away first)")
    private, public = new_key_pair()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem(private, _passphrase()))
    Path(public_path).write_text(public_key_text(public) + "\n", encoding="ascii")
    click.echo(f"private key: {private_path} (mode 0600; keep it offline, never on the server)")
    click.echo(f"public key:  {public_path} (key id {key_id(public)}): {public_key_text(public)}")


@cli.command("pack")
@click.argument("bundle_dir", type=click.Path(file_okay=False))
@click.option("--version", "version", required=True, help="The release's version, e.g. 1.2.0.")
@click.option("--arch", default=None, help="aarch64 (a Raspberry Pi) or x86_64 (default: this machine's).")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The folder to write the archive into.")
def pack_command(bundle_dir, version, arch, out_dir):
    """Pack BUNDLE_DIR (dist/kiosk) with its VERSION into hai-long-kiosk-<version>-<arch>.tar.gz."""
    try:
        out = pack(bundle_dir, version=version, arch=arch, out_dir=out_dir)
    except ReleaseError as exc:
        raise BadInput(str(exc)) from None
    click.echo(f"{out} ({out.stat().st_size} bytes)")


@cli.command()
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--key", "key_path", required=True, help="The private release key (PEM).")
@click.option("--out", "sig_path", default=None, help="Where to write the statement (default: ARCHIVE.sig).")
def sign(archive, key_path, sig_path):
    """Write ARCHIVE.sig: the release statement signed with the private key."""
    private_bytes = _read(key_path, "the private key")
    if not Path(archive).is_file():
        raise BadInput(f"the archive {archive} does not exist")
    try:
        private = load_private(private_bytes, _passphrase())
        document = sign_statement(make_statement(archive), private)
    except ReleaseError as exc:
        raise BadInput(str(exc)) from None
    out = Path(sig_path or f"{archive}.sig")
    out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"{out}: {document['statement']['version']} ({document['statement']['arch']}), "
               f"key id {document['key_id']}")


@cli.command()
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--sig", "sig_path", default=None, help="The statement (default: ARCHIVE.sig).")
@click.option("--public-key", "public_key", required=True,
              help="The public key: the .pub file written by keygen, or its one line of base64.")
def verify(archive, sig_path, public_key):
    """Check ARCHIVE against its signed statement and the public key (exit 0: good; 2: refused)."""
    key_text = Path(public_key).read_text(encoding="ascii", errors="replace") if Path(public_key).is_file() \
        else public_key
    document = _read(sig_path or f"{archive}.sig", "the statement")
    try:
        statement = verify_release(archive, document, load_public(key_text))
    except ReleaseError as exc:
        raise BadInput(f"refused: {exc}") from None
    click.echo(f"good: {statement['archive']} is release {statement['version']} ({statement['arch']}, "
               f"{statement['size']} bytes, sha256 {statement['sha256']})")


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="kiosk-release", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if isinstance(exc, BadInput) else 2)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
