"""Pull benchmark: ``kiosk-admin pull`` of a million ratings from a local server into ``.db`` and ``.csv``.

    python bench/pull.py [--ratings 1000000] [--formats db,csv] [--rounds 1] [--page-size 10000]
                         [--db sqlite|postgresql]

The server runs as its own process (``kiosk-server serve``) on a loopback
port, filled by ``bench/seed.py`` (``seed_server_db``) straight into its database. Each pull is
the real command in its own process, into a new file; its wall time and
peak memory (``ru_maxrss`` of that process, from ``os.wait4``) are printed.
Beside them: the bare paging (the same requests, the JSON parsed, nothing
written) to show what the server and the wire cost, and a second pull into
the full file (nothing new). Prints figures and medians; asserts nothing.
Targets in issue 4: at most 60 s and 200 MB per format.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SERVER = [sys.executable, "-c", "from server.cli import main; main()"]
ADMIN = [sys.executable, "-c", "from admin.cli import main; main()"]
PAGER = [sys.executable, "-c", """
import sys, time
from admin.client import make_session, ratings_pages
n = 0
for page in ratings_pages(make_session(), sys.argv[1], sys.argv[2], page_size=int(sys.argv[3])):
    n += len(page.ratings)
print(n)
"""]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_measured(command: list[str], env: dict) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process, its rusage from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{command[-6:]} failed ({child.returncode}): {err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode().strip()


def server_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(args) -> None:
    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pull-", dir=ROOT / "var"))
    pg = None
    if args.db == "postgresql":
        from server_fixtures import ThrowawayPostgres

        pg = ThrowawayPostgres(durable=True).start()
        db_url = pg.url
    else:
        db_url = f"sqlite:///{work / 'server.db'}"
    server = None
    try:
        started = time.perf_counter()
        # In a child process: the seeder holds every row at once, and a child forked from a big parent would
        # count the parent's pages in its own ru_maxrss.
        subprocess.run([sys.executable, str(ROOT / "bench" / "seed.py"), db_url, str(args.ratings)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"seeded {args.ratings:,} ratings ({args.db}) in {time.perf_counter() - started:.1f} s")
        token = subprocess.run([*SERVER, "admin-token", "--name", "bench", "--db", db_url], capture_output=True,
                               text=True, check=True).stdout.split()[0]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*SERVER, "serve", "--db", db_url, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
        env = {**os.environ, "HAILONG_ADMIN_TOKEN": token, "PYTHONPATH": str(ROOT)}
        print(f"server {url}, page size {args.page_size:,} (the server caps it at ratings_page_max), "
              f"{args.rounds} round(s)\n")
        print(f"{'what':<28}{'seconds':>9}{'ratings/s':>12}{'peak MB':>9}{'file MB':>9}")
        results: dict[str, list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            seconds, peak, out = run_measured([*PAGER, url, token, str(args.page_size)], env)
            assert int(out) == args.ratings, out
            results.setdefault("paging only (no file)", []).append((seconds, peak))
            print(f"{'paging only (no file)':<28}{seconds:>9.1f}{args.ratings / seconds:>12,.0f}{peak:>9.0f}"
                  f"{'-':>9}")
            for fmt in args.formats:
                target = work / f"round{round_}.{fmt}"
                command = [*ADMIN, "pull", "--server", url, "--out", str(target), "--page-size", str(args.page_size)]
                seconds, peak, out = run_measured(command, env)
                assert f"Pulled {args.ratings:,} new ratings" in out, out
                size = target.stat().st_size / 1e6
                results.setdefault(f"pull into .{fmt}", []).append((seconds, peak))
                print(f"{'pull into .' + fmt:<28}{seconds:>9.1f}{args.ratings / seconds:>12,.0f}{peak:>9.0f}"
                      f"{size:>9.0f}")
                seconds, peak, out = run_measured(command, env)
                assert out.startswith("Pulled 0 new ratings"), out
                results.setdefault(f"again, nothing new (.{fmt})", []).append((seconds, peak))
                print(f"{'again, nothing new (.' + fmt + ')':<28}{seconds:>9.2f}{'-':>12}{peak:>9.0f}"
                      f"{size:>9.0f}")
                target.unlink()
        if args.rounds > 1:
            print("\nmedians")
            for what, figures in results.items():
                print(f"{what:<28}{statistics.median(s for s, _ in figures):>9.1f}{'':>12}"
                      f"{statistics.median(p for _, p in figures):>9.0f}")
        peak = server_peak_mb(server.pid)
        if peak is not None:
            print(f"\nserver process peak RSS: {peak:.0f} MB")
        print("targets (issue 4): <= 60 s and <= 200 MB per format")
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--formats", type=lambda s: s.split(","), default=["db", "csv"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
