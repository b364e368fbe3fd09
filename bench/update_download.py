"""Downloading a real release over a throttled loopback link, with an interruption and a resume; and the bytes an
update would send when only the app's code changed.

    python bench/update_download.py [--kbps 2000] [--cut 0.4]

(a) The bundle from ``make bundle`` (dist/kiosk) packed as a release (``kiosk-release pack``, gzip level 6) is
    served by tests/release_server.py on loopback at ``--kbps`` KB/s (the "link"); the terminal's downloader
    (sync/download.py) fetches it, the link breaks after ``--cut`` of the archive, and the next call resumes
    with Range from the .part. Printed: the time, the bytes the server sent against the archive's size (what the
    break lost in flight is the only overlap: nothing on disk is fetched again), the Range asked for.
(b) What an update sends when only the app's code changed: today the whole archive. Measured here: the parts of
    that archive that change with the app's code alone: the bundle's executable (PyInstaller puts every pure
    Python module, the app's and the libraries', in its PYZ), and inside it the app's own modules (kiosk, sync,
    hardware, release) with the screens' .kv files: what a split "app archive / libraries archive" would send.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

APP_PACKAGES = ("kiosk", "sync", "hardware", "release")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kbps", type=float, default=2000.0, help="the link's speed, KB/s (default 2000)")
    parser.add_argument("--cut", type=float, default=0.4, help="the link breaks after this share (default 0.4)")
    args = parser.parse_args()

    import requests

    from release import make_statement, pack, sign_statement
    from release.signing import new_key_pair
    from release_server import TOKEN, ReleaseServer
    from sync.download import DownloadError, download, part_path

    bundle = REPO / "dist" / "kiosk"
    if not (bundle / "kiosk").exists():
        sys.exit("no dist/kiosk: run `make bundle` first")
    with tempfile.TemporaryDirectory(prefix="hai-long-bench-") as tmp:
        tmp = Path(tmp)
        started = time.monotonic()
        archive = pack(bundle, version="1.1.0", out_dir=tmp)
        pack_s = time.monotonic() - started
        sig = tmp / f"{archive.name}.sig"
        sig.write_text(json.dumps(sign_statement(make_statement(archive), new_key_pair()[0])))
        size = archive.stat().st_size
        server = ReleaseServer(max_kbps=args.kbps).start()
        server.publish(archive, sig)
        url = f"{server.url}/api/v1/terminal/releases/1.1.0/archive"
        dest = tmp / "got" / archive.name
        headers = {"Authorization": f"Bearer {TOKEN}"}
        server.cut_after = int(size * args.cut)
        with requests.Session() as session:
            t0 = time.monotonic()
            try:
                download(session, url, dest, size=size, headers=headers, timeout=(5, 30))
                broke = False
            except DownloadError:
                broke = True
            first_s = time.monotonic() - t0
            on_disk = part_path(dest).stat().st_size
            t1 = time.monotonic()
            result = download(session, url, dest, size=size, headers=headers, timeout=(5, 30))
            second_s = time.monotonic() - t1
        server.stop()
        same = dest.read_bytes() == archive.read_bytes()
        sent = server.archive_bytes_sent
        print(f"(a) release archive {archive.name}: {size:,} bytes (packed in {pack_s:.1f} s); link {args.kbps:g} KB/s")
        print(f"    first try: broke={broke} after {first_s:.1f} s with {on_disk:,} bytes on disk")
        print(f"    resume: Range {server.archive_requests[-1]!r}, {result.fetched:,} bytes in {second_s:.1f} s")
        print(f"    total {first_s + second_s:.1f} s (the link alone: {size / 1024 / args.kbps:.1f} s); "
              f"server sent {sent:,} bytes for {size:,} (overlap {sent - size:,} bytes: lost in flight at the "
              f"break); whole and identical: {same}")

        # (b) the parts that change with the app's code only
        from PyInstaller.archive.readers import CArchiveReader

        exe = bundle / "kiosk"
        exe_gz = len(gzip.compress(exe.read_bytes(), 6))
        pyz = CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz")
        app_bytes = lib_bytes = 0
        for name, entry in pyz.toc.items():
            length = entry[2] if isinstance(entry, tuple) else entry.length  # zlib-compressed already
            if name.split(".")[0] in APP_PACKAGES:
                app_bytes += length
            else:
                lib_bytes += length
        kv = sum(len(gzip.compress(p.read_bytes(), 6)) for p in (bundle / "_internal" / "kiosk" / "ui").glob("*.kv"))
        print(f"(b) an update when only the app's code changed (gzip level 6 / PyInstaller's zlib):")
        print(f"    whole archive (what is sent today): {size:,} bytes")
        print(f"    the bundle's executable alone (its PYZ holds every pure-Python module): {exe_gz:,} bytes "
              f"({100 * exe_gz / size:.1f} %)")
        print(f"    the app's own modules ({', '.join(APP_PACKAGES)}) + the .kv screens: {app_bytes + kv:,} bytes "
              f"({100 * (app_bytes + kv) / size:.2f} %); the libraries' pure-Python modules: {lib_bytes:,} bytes")
        print("    (the split is not built: an app-only archive would need kiosk.spec to ship the app's modules "
              "outside the PYZ and the updater to fetch two archives)")


if __name__ == "__main__":
    main()
