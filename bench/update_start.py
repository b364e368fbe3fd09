"""The terminal's start time to its first home frame, after an update against before it (ratio of medians).

    python bench/update_start.py [--runs 3]

Each run installs release A (the bundle from ``make bundle`` packed as 1.0.0) into slot a of a temporary
/opt/hai-long and starts it through deploy/hai-long-launch (as kiosk.service does), with a loopback release
server (tests/release_server.py):

- before: from spawning the launcher to A's log line "first frame drawn (home screen)";
- after: release B (the same bundle packed as 1.1.0) is offered, downloaded, verified, unpacked into slot b and
  switched to at the quiet moment; from the old version's "restarting through the launcher" to B's first frame
  (B starts on trial from files unpacked seconds before).

Times are when the lines reach this process (SDL's offscreen driver, Mesa llvmpipe). Prints medians and the
ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from release_server import ReleaseServer
    from update_terminal import FIRST_FRAME, Releases, Supervisor, frozen_env, install, write_config

    bundle = REPO / "dist" / "kiosk"
    if not (bundle / "kiosk").exists():
        sys.exit("no dist/kiosk: run `make bundle` first")
    before, after = [], []
    with tempfile.TemporaryDirectory(prefix="hai-long-bench-") as tmp:
        releases = Releases(bundle, Path(tmp) / "releases")
        releases.make("1.0.0")
        releases.make("1.1.0")
        for run in range(args.runs):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            root = folder / "opt"
            install(root, releases.archives["1.0.0"])
            server = ReleaseServer().start()
            server.publish(releases.archives["1.1.0"], Path(f"{releases.archives['1.1.0']}.sig"))
            config = write_config(folder, server_url=server.url, public_key=releases.public, root=root)
            supervisor = Supervisor(config, frozen_env(folder, root, press=False), folder).start()
            try:
                spawned = supervisor.wait_for("supervisor: start 1")
                frame = supervisor.wait_for(FIRST_FRAME, 60)
                before.append(supervisor.times[frame] - supervisor.times[spawned])
                server.offer("1.1.0")
                restart = supervisor.wait_for("restarting through the launcher", 120)
                frame = supervisor.wait_for(FIRST_FRAME, 60, after=restart)
                after.append(supervisor.times[frame] - supervisor.times[restart])
                supervisor.wait_for("proved healthy: committed", 60, after=restart)
            finally:
                supervisor.stop()
                server.stop()
            print(f"run {run + 1}: before {before[-1]:.2f} s, after the update {after[-1]:.2f} s", flush=True)
    b, a = statistics.median(before), statistics.median(after)
    print(f"start to first home frame, median of {args.runs}: before {b:.2f} s, after an update {a:.2f} s; "
          f"ratio after/before {a / b:.2f}")


if __name__ == "__main__":
    main()
