"""Signed software updates with roll-back: the terminal's side (issue 13).

The slots live under ``[updates] root`` (``/opt/hai-long``)::

    a/kiosk/kiosk, b/kiosk/kiosk   two PyInstaller bundles (a release archive unpacks as kiosk/)
    current -> a                   the version proven healthy (deploy/hai-long-launch starts it)
    trial -> b                     only while a new version is on trial (the launcher starts it instead)
    trial-deadline                 epoch seconds: past it without a commit, the launcher falls back
    trial-starts                   one line per start of the trial slot (the launcher's crash count)
    rolled-back                    the launcher's word on why it fell back ("<version>: <why>")
    download/                      the archive and its .part while downloading
    update-state.json              this module's state ($HAI_LONG_UPDATE_STATE may put it elsewhere)

The state machine, over :data:`sync.protocol.UPDATE_STATES`::

    idle --offer--> downloading --verified, unpacked--> ready --quiet moment, switch--> trial
    trial --home drawn + server reached within health_s--> idle (committed: current -> new slot)
    trial --deadline passed / crashed at start--> rolled_back (trial link removed, previous slot runs)
    downloading --no space, bad signature or hash--> failed

Every change of a link is one rename (atomic), and the links decide what the launcher starts; the state
file (written whole, atomically) only says what this module was doing, so a SIGKILL anywhere leaves a
terminal that starts: a half-unpacked slot is never linked, and a half-done switch is finished or undone
at the next start by :meth:`Updater.begin`.

    >>> UpdateState().to_health()
    {'update_state': None, 'update_version': None, 'update_error': None}
    >>> UpdateState(state="rolled_back", version="1.3.0", error="crashed").to_health()["update_state"]
    'rolled_back'
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from sync.protocol import APP_VERSION_MAX, LAST_ERROR_MAX, UPDATE_STATES

log = logging.getLogger(__name__)

SLOTS = ("a", "b")
#: The launcher falls back after this many starts of a trial slot that did not commit (deploy/hai-long-launch).
MAX_TRIAL_STARTS = 3
STATE_ENV = "HAI_LONG_UPDATE_STATE"
#: Set by deploy/hai-long-launch for the program it starts: the slot, whether it is on trial, the launcher.
SLOT_ENV = "HAI_LONG_SLOT"
TRIAL_ENV = "HAI_LONG_TRIAL"
LAUNCHER_ENV = "HAI_LONG_LAUNCHER"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (temporary file, fsync, rename, fsync the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _sync_folder(path.parent)


def link_atomically(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target`` in one rename (never a moment without it)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _sync_folder(link.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class UpdateState:
    """What the updater is doing; kept in ``update-state.json``."""

    state: str | None = None  # None: no update ever offered (the heartbeat leaves the fields out)
    version: str | None = None
    error: str | None = None
    size: int | None = None
    sha256: str | None = None
    #: The slot the release is unpacked into (the one not running).
    slot: str | None = None
    #: The version this terminal ran before the switch (for the roll-back's sentence).
    previous: str | None = None
    changed_at: float | None = None

    def to_health(self) -> dict:
        error = self.error
        if error is not None and len(error) > LAST_ERROR_MAX:
            error = error[:LAST_ERROR_MAX - 1] + "…"
        return {"update_state": self.state, "update_version": (self.version or None) and self.version[:APP_VERSION_MAX],
                "update_error": error}

    @classmethod
    def load(cls, path: Path) -> "UpdateState":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:  # never written half (atomic), but a hand edit could break it
            log.warning("update state %s cannot be read (%s); starting from idle", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known})
        if state.state is not None and state.state not in UPDATE_STATES:
            state.state = None
        return state

    def save(self, path: Path) -> None:
        self.changed_at = time.time()
        write_atomically(path, json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")


class Slots:
    """The A/B layout under the root (see the module's docstring)."""

    def __init__(self, root: str | Path, state_path: str | Path | None = None):
        self.root = Path(root)
        self.state_path = Path(state_path) if state_path else self.root / "update-state.json"
        self.current = self.root / "current"
        self.trial = self.root / "trial"
        self.deadline = self.root / "trial-deadline"
        self.starts = self.root / "trial-starts"
        self.rolled_back = self.root / "rolled-back"
        self.downloads = self.root / "download"

    def target(self, link: Path) -> str | None:
        """The slot a link points at (``a`` or ``b``), or None."""
        try:
            return Path(os.readlink(link)).name
        except OSError:
            return None

    def other(self, slot: str) -> str:
        return SLOTS[1 - SLOTS.index(slot)] if slot in SLOTS else SLOTS[0]

    def version_in(self, slot: str) -> str | None:
        try:
            return (self.root / slot / "kiosk" / "VERSION").read_text(encoding="utf-8").strip() or None
        except OSError:
            return None


def running_version(executable: str, frozen: bool, fallback: str) -> str:
    """The version this program is: the ``VERSION`` a release put beside the bundle's executable, else ``fallback``.

        >>> running_version("/nowhere/kiosk", True, "0.1.0")
        '0.1.0'
    """
    if frozen:
        try:
            text = (Path(executable).resolve().parent / "VERSION").read_text(encoding="utf-8").strip()
            if text:
                return text
        except OSError:
            pass
    return fallback


class Updater:
    """One terminal's updates: takes offers from the uploader's thread, downloads in its own thread, switches
    when the screens say the moment is quiet, judges the trial, commits or rolls back.

    ``slot`` is the slot this program runs from (``$HAI_LONG_SLOT``, set by the launcher); ``restart`` is called
    (from any thread) when the terminal must start again through the launcher.
    """

    def __init__(self, settings, *, server_url: str, token: str, session, version: str, slot: str | None,
                 state_path: str | Path | None = None, restart: Callable[[], None] | None = None,
                 on_commit: Callable[[], None] | None = None, clock: Callable[[], float] = time.time,
                 timeout=None):
        from sync import http

        self.settings = settings
        self.slots = Slots(settings.root, state_path)
        self.server_url = server_url
        self.token = token
        self.session = session
        self.version = version
        self.slot = slot
        self.restart = restart
        self.on_commit = on_commit
        self.clock = clock
        self.timeout = timeout or http.TIMEOUT
        self.releases_url = http.api_url(server_url, "terminal/releases")
        self.state = UpdateState.load(self.slots.state_path)
        self.in_trial = False
        self.home_seen = False
        self.contact_seen = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._watch: threading.Thread | None = None
        #: Why updates are off on this terminal (None: on).
        self.off_reason = self._off_reason()
        #: With updates off, the release last offered: reported ``failed`` with :attr:`off_reason`, so that the
        #: server (and a first wave waiting for this terminal) learns it takes no update instead of waiting.
        self._declined: str | None = None

    def _off_reason(self) -> str | None:
        if not self.settings.enabled:
            return "[updates] enabled = false"
        if not self.settings.public_key:
            return "no release key: `kiosk provision --release-key KEY` or [updates] public_key"
        if self.slot not in SLOTS:
            return "this terminal was not started by hai-long-launch from an A/B slot"
        return None

    # -- the heartbeat's fields ---------------------------------------------------
    def health_fields(self) -> dict:
        with self._lock:
            if self.off_reason is not None and self._declined is not None:
                return UpdateState(state="failed", version=self._declined,
                                   error=f"this terminal takes no update: {self.off_reason}").to_health()
            return self.state.to_health()

    def _set(self, state: str, **changes) -> None:
        with self._lock:
            self.state.state = state
            for name, value in changes.items():
                setattr(self.state, name, value)
            self.state.save(self.slots.state_path)
        log.info("update %s: %s%s", self.state.version, state, f" ({self.state.error})" if self.state.error else "")

    # -- at the start ------------------------------------------------------------
    def begin(self) -> None:
        """Finish or undo what a stop left half done; then go on: resume a download, or judge a trial."""
        if self.off_reason is not None:
            log.info("updates off: %s", self.off_reason)
            return
        slots = self.slots
        trial = slots.target(slots.trial)
        current = slots.target(slots.current)
        with self._lock:
            if trial is not None and trial == current:  # a commit stopped after moving `current`
                self._tidy_trial()
            elif trial is not None and trial == self.slot:
                self.in_trial = True
                if self.state.state != "trial":  # the switch stopped between the link and the state file
                    self._set("trial", version=self.version, slot=self.slot, error=None)
            elif trial is not None:  # the trial link points elsewhere, yet this slot runs: a fall-back cut short
                self._roll_back_files(f"version {slots.version_in(trial)} did not start")
            if not self.in_trial:
                note = self._launcher_note()
                if self.state.state == "trial" or (self.state.state == "ready" and note):
                    if self.state.slot == self.slot:  # this is the new version: the commit was cut short
                        self._set("idle", error=None)
                    else:  # the launcher (or the trial itself) went back to this version
                        self._set("rolled_back", error=note or f"version {self.state.version} did not become "
                                  "healthy")
        if self.in_trial:
            self._start_watch()
        elif self.state.state == "downloading":
            self._start_worker()

    def _launcher_note(self) -> str | None:
        try:
            text = self.slots.rolled_back.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        self.slots.rolled_back.unlink(missing_ok=True)
        return text or None

    # -- an offer (the uploader's thread) ----------------------------------------------
    def offer(self, release) -> bool:
        """A receipt offers ``release`` (:class:`sync.protocol.ReleaseOffer`); True when a download starts."""
        if release is None or release.version == self.version:
            return False
        if self.off_reason is not None:
            with self._lock:
                if self._declined != release.version:
                    log.warning("update %s offered, not taken: %s", release.version, self.off_reason)
                    self._declined = release.version
            return False
        with self._lock:
            if self.in_trial or self.state.state == "trial" or self._stop.is_set():
                # One change at a time: the trial is judged first (also while this, the previous version, is
                # between the switch and its restart: its receipts still offer the release it switched to).
                return False
            same = self.state.version == release.version and self.state.sha256 == release.sha256
            if same and self.state.state in ("downloading", "ready", "rolled_back", "failed"):
                if self.state.state == "downloading":
                    self._start_worker()
                return False  # already on it, or already refused: the server stops offering it
            self._set("downloading", version=release.version, size=release.size, sha256=release.sha256,
                      slot=self.slots.other(self.slot), previous=self.version, error=None)
            self._start_worker()
            return True

    def _start_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._worker = threading.Thread(target=self._download_and_unpack, name="update", daemon=True)
        self._worker.start()

    def wait(self, timeout: float | None = None) -> None:
        """Until the background download/unpack ends (tests and ``kiosk update --once``)."""
        if self._worker is not None:
            self._worker.join(timeout)

    def _download_and_unpack(self) -> None:
        from release import ReleaseError, unpack, verify_release
        from sync.download import DownloadError, DownloadStopped, download

        state = self.state
        version, slot = state.version, state.slot
        archive = self.slots.downloads / f"{version}.tar.gz"
        url = f"{self.releases_url}/{version}"
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            response = self.session.get(url, headers=headers, timeout=self.timeout)
            if response.status_code != 200:
                from sync.http import describe_status

                raise DownloadError(f"the release statement: {describe_status(response)}")
            statement_json = response.content
            # The statement first: a release not signed by this terminal's key is not even downloaded.
            from release import check_signature

            statement = check_signature(statement_json, self.settings.public_key)
            if statement["version"] != version or statement["sha256"] != state.sha256 \
                    or statement["size"] != state.size:
                raise ReleaseError("the signed statement names another archive than the offer")
            min_free = self.settings.min_free_mb << 20
            # Room for the archive and its unpacked copy (about three times the archive) must stay free.
            if not (archive.exists() and archive.stat().st_size == state.size):  # else: stopped while unpacking
                from sync.download import part_path

                part = part_path(archive)
                log.info("update %s: fetching the archive (%d of %d bytes here already)", version,
                         part.stat().st_size if part.exists() else 0, state.size)
                download(self.session, f"{url}/archive", archive, size=state.size, headers=headers,
                         max_kbps=self.settings.max_kbps, min_free_bytes=min_free + 3 * state.size,
                         timeout=self.timeout, stop=self._stop)
            try:
                verify_release(archive, statement_json, self.settings.public_key)
            except ReleaseError:
                archive.unlink(missing_ok=True)  # the next offer downloads it from the start
                raise
            target = self.slots.root / slot
            if self.slots.target(self.slots.current) == slot or self.slot == slot:
                raise ReleaseError(f"slot {slot} is the running one")  # never: other() of the running slot
            log.info("update %s: signature and sha256 good; unpacking into slot %s", version, slot)
            shutil.rmtree(target, ignore_errors=True)
            bundle = unpack(archive, target)
            if (bundle / "VERSION").read_text(encoding="utf-8").strip() != version:
                raise ReleaseError("the unpacked VERSION is not the release's")
            archive.unlink(missing_ok=True)
            self._set("ready", error=None)
        except DownloadStopped:
            log.info("update %s: download paused (stopping)", version)
        except (DownloadError, ReleaseError, OSError) as exc:
            error = f"{version}: {exc}"
            if isinstance(exc, DownloadError) and not str(exc).startswith("not enough space") \
                    and "refused" not in str(exc):
                # The link broke: stay downloading, the next receipt (or start) resumes from the .part.
                with self._lock:
                    self.state.error = error
                    self.state.save(self.slots.state_path)
                log.warning("update %s: %s", version, exc)
            else:
                self._set("failed", error=error)
        except Exception as exc:  # never kill the terminal for an update
            log.exception("update %s failed", version)
            self._set("failed", error=f"{version}: {exc}")

    # -- the switch (Kivy's thread, at a quiet moment on the home screen) ----------------------
    def switch_if_ready(self) -> bool:
        """When a release is ready: put it on trial and return True (the caller restarts the terminal now)."""
        with self._lock:
            if self.off_reason is not None or self.state.state != "ready" or self.in_trial:
                return False
            slot = self.state.slot
            if self.slots.version_in(slot) != self.state.version:
                self._set("failed", error=f"{self.state.version}: the unpacked slot {slot} is gone")
                return False
            deadline = int(self.clock() + self.settings.health_s)
            self.slots.starts.unlink(missing_ok=True)
            self.slots.rolled_back.unlink(missing_ok=True)
            write_atomically(self.slots.deadline, f"{deadline}\n")
            link_atomically(self.slots.trial, slot)  # from here the launcher starts the new version
            self._set("trial", error=None)
        log.info("switching to %s (slot %s) at a quiet moment; it must prove healthy within %.0f s",
                 self.state.version, slot, self.settings.health_s)
        return True

    # -- the trial ---------------------------------------------------------------------------
    def home_drawn(self) -> None:
        self.home_seen = True
        self._judge()

    def server_reached(self) -> None:
        """A batch or heartbeat was acknowledged (the uploader's thread)."""
        self.contact_seen = True
        self._judge()

    def _judge(self) -> None:
        if self.in_trial and self.home_seen and self.contact_seen:
            self.commit()

    def commit(self) -> None:
        with self._lock:
            if not self.in_trial:
                return
            link_atomically(self.slots.current, self.slot)  # the new version is the one to start from now
            self._tidy_trial()
            self.in_trial = False
            self._set("idle", error=None)
        log.info("version %s proved healthy: committed", self.version)
        if self.on_commit is not None:
            self.on_commit()

    def _tidy_trial(self) -> None:
        for path in (self.slots.trial, self.slots.starts, self.slots.deadline):
            path.unlink(missing_ok=True)

    def _trial_deadline(self) -> float:
        try:
            return float(self.slots.deadline.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return self.clock() + self.settings.health_s

    def _start_watch(self) -> None:
        self._watch = threading.Thread(target=self._watch_trial, name="update-trial", daemon=True)
        self._watch.start()

    def _watch_trial(self) -> None:
        deadline = self._trial_deadline()
        while not self._stop.wait(0.5):
            if not self.in_trial:
                return
            if self.clock() >= deadline:
                missing = [what for what, seen in (("draw its home screen", self.home_seen),
                                                   ("reach the server", self.contact_seen)) if not seen]
                self.roll_back(f"version {self.version} did not {' and '.join(missing)} within "
                               f"{self.settings.health_s:.0f} s")
                return

    def roll_back(self, why: str) -> None:
        """Give up the trial: the previous version starts again (the terminal restarts)."""
        with self._lock:
            if not self.in_trial:
                return
            self._roll_back_files(why)
            self.in_trial = False
            self._set("rolled_back", error=why)
        log.warning("rolling back: %s", why)
        if self.restart is not None:
            self.restart()

    def _roll_back_files(self, why: str) -> None:
        self.slots.trial.unlink(missing_ok=True)  # from here the launcher starts `current` again
        write_atomically(self.slots.rolled_back, f"{why}\n")
        for path in (self.slots.starts, self.slots.deadline):
            path.unlink(missing_ok=True)

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(5.0)

    def describe(self) -> str:
        """One line for ``kiosk status``."""
        if self.off_reason is not None:
            return f"off ({self.off_reason})"
        return describe_state(self.state, self.version, self.slot)


def describe_state(state: UpdateState, version: str, slot: str | None) -> str:
    """``kiosk status``'s line on updates.

        >>> describe_state(UpdateState(), "1.2.0", "a")
        'running 1.2.0 (slot a); no update offered'
        >>> describe_state(UpdateState(state="rolled_back", version="1.3.0", error="crashed"), "1.2.0", "a")
        'running 1.2.0 (slot a); 1.3.0: rolled_back (crashed)'
    """
    where = f"running {version}" + (f" (slot {slot})" if slot else "")
    if state.state is None:
        return f"{where}; no update offered"
    return f"{where}; {state.version}: {state.state}" + (f" ({state.error})" if state.error else "")


def update_status(settings, *, state_path: str | None = None, slot: str | None = None) -> dict:
    """What ``kiosk status`` shows of updates: the state file and the slots, read only.

        >>> from kiosk.config import load_config
        >>> update_status(load_config(None).updates, state_path="/nonexistent/state.json")["summary"]
        'off (no release key: `kiosk provision --release-key KEY` or [updates] public_key)'
    """
    slots = Slots(settings.root, state_path)
    state = UpdateState.load(slots.state_path)
    current = slots.target(slots.current)
    trial = slots.target(slots.trial)
    info = {**state.to_health(), "current_slot": current, "trial_slot": trial,
            "current_version": slots.version_in(current) if current else None,
            "state_file": str(slots.state_path)}
    if not settings.enabled:
        info["summary"] = "off ([updates] enabled = false)"
    elif not settings.public_key:
        info["summary"] = "off (no release key: `kiosk provision --release-key KEY` or [updates] public_key)"
    elif current is None:
        info["summary"] = f"off (no A/B slots under {settings.root}: install with deploy/pi-setup.sh --bundle)"
    else:
        where = f"slot {current} ({info['current_version'] or 'first install'})"
        if trial:
            where += f", on trial: slot {trial} ({slots.version_in(trial)})"
        info["summary"] = describe_state(state, info["current_version"] or "?", None).replace(
            f"running {info['current_version'] or '?'}", f"current {where}")
    return info
