"""Wiring the parts of a running terminal together (no Kivy here).

``open_terminal`` builds the store, the flow and the button panel from a
config; the Kivy app is then given these objects.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import hardware
from sync.local import LocalRatings
from sync.uploader import Uploader, make_session

from . import __version__
from .config import Config
from .flow import FlowEvent, RatingFlow
from .remote_settings import overlay
from .settings_apply import SettingsOffer, config_data, effective_config
from .status import terminal_status
from .storage_watch import StorageWatch
from .store import DOSSIER_REPEAT, RatingStore, StoreError

log = logging.getLogger(__name__)


@dataclass
class Terminal:
    config: Config
    store: RatingStore
    flow: RatingFlow
    panel: "hardware.ButtonPanel | None"
    keyboard: "hardware.KeyboardBridge | None"
    hardware_note: str
    uploader: Uploader | None = None
    sync_note: str = ""
    #: Why the buttons could not be opened (None: they were, or mock pins).
    panel_error: str | None = None
    #: The startup checks (kiosk.checks.Check) that ``kiosk run`` made.
    checks: list = field(default_factory=list)
    #: Checkpoints when idle, probes a full disk (see kiosk.storage_watch); started by ``kiosk run``.
    watch: StorageWatch | None = None
    #: The uploader waits until the file is shared again (the disk was full at the start).
    upload_when_shared: bool = False
    #: Called with an uploader that arrived after the start (from the storage watch's thread): the screens
    #: follow it from then on.
    when_uploader: Callable[[Uploader], None] | None = None
    #: The config of the local file alone (``config`` is it with the remote settings applied on top).
    local_config: Config | None = None
    #: Remote settings checked by the uploader, waiting for a quiet moment on the home screen (issue 13).
    settings_offer: SettingsOffer = field(default_factory=SettingsOffer)

    def check_settings(self, values: dict) -> Config:
        """The config this terminal would run with the remote ``values``: its local file with them on top,
        checked whole. Raises ConfigError (a ValueError) naming the key that does not fit."""
        local = self.local_config or self.config
        return overlay(config_data(local), values, source=f"{local.source} + remote settings")

    def follow_settings(self, uploader: Uploader) -> None:
        """Let ``uploader`` fetch and check remote settings and hand good ones to :attr:`settings_offer`."""
        uploader.check_settings = self.check_settings
        uploader.when_settings = self.settings_offer.put
    #: Signed software updates (kiosk.updates.Updater); None when the terminal does not upload.
    updates: "Updater | None" = None
    #: (slot, update state path) the launcher gave, for an updater made after the start.
    slot_info: tuple | None = None

    def start_uploading(self) -> None:
        """Start the uploader now, or, when the disk was full at the start, as soon as the file is shared again."""
        if self.uploader is not None:
            self.uploader.start()
        elif self.upload_when_shared and self.watch is not None:
            self.watch.when_shared = self._upload_now_shared

    def _upload_now_shared(self) -> None:
        """The file is shared again: open the uploader that could not open at the start, and start it."""
        self.upload_when_shared = False
        uploader, self.sync_note = open_uploader(self.config, self.store.clock.stamp)
        if uploader is None:
            log.warning("upload: %s", self.sync_note)
            return
        self.flow.add_listener(lambda event: uploader.wake())
        self.follow_settings(uploader)
        self.uploader = uploader
        if self.updates is None and self.slot_info is not None:
            self.updates = open_updates(self.config, uploader, slot=self.slot_info[0], state_path=self.slot_info[1])
            self.updates.on_commit = self.schedule_schema_after_commit
        uploader.start()
        log.info("space is back: uploads start (%s)", self.sync_note)
        if self.when_uploader is not None:
            self.when_uploader(uploader)

    def status(self) -> dict:
        from .logs import log_path

        return terminal_status(self.config, self.store, hardware=self.hardware_note, checks=self.checks,
                               log_file=log_path(self.config))

    def schedule_schema_after_commit(self) -> None:
        try:
            self.schema_after_commit()
        except Exception:  # the next start runs them (committed by then)
            log.exception("the held migrations could not run after the commit")

    def schema_after_commit(self) -> None:
        """The version proved healthy: the migrations held during its trial run now."""
        from . import migrations

        migrations.hold_non_additive = False
        with self.store._lock:
            migrations.apply(self.store.db, on_trial=False)

    def close(self) -> None:
        if self.updates is not None:
            self.updates.stop()
        if self.watch is not None:
            self.watch.stop()
        if self.uploader is not None:
            self.uploader.stop()
            self.uploader.local.close()
        if self.panel is not None:
            self.panel.close()
        self.store.sync_mark()
        self.store.checkpoint()
        self.store.close()


def refused_press(what: str, exc: StoreError) -> None:
    """A press the store refused (e.g. a full disk): one plain line in the log, no traceback."""
    log.warning("%s not stored: %s", what, exc)


def guarded(what: str, action):
    """``action`` for a button: a press the store refuses is said in one line, not raised into gpiozero."""
    def call(*args, **kwargs):
        try:
            return action(*args, **kwargs)
        except StoreError as exc:
            refused_press(what, exc)
            return None

    return call


def wire_panel(flow: RatingFlow, panel, *, beep: bool = True) -> None:
    """Buttons feed the flow; counted ratings light their LED and beep."""
    panel.when_rating = guarded("button press", lambda code: flow.press(code, source="button"))
    panel.when_reason = guarded("reason button press",
                                lambda number: flow.choose_reason_number(number, source="button"))
    panel.when_skip = guarded("skip button press", lambda: flow.skip_reason(source="button"))

    def feedback(event: FlowEvent) -> None:
        # A second rating of a dossier gets the same light and beep as a counted one: the citizen (and the
        # officer beside them) cannot tell it apart.
        if event.kind == "rated" or (event.kind == "filtered" and event.filter_cause == DOSSIER_REPEAT):
            panel.show_rating(event.rating, beep=beep)

    flow.add_listener(feedback)


def read_token(config: Config) -> str | None:
    """The device token written by ``kiosk provision``, or None."""
    try:
        return Path(config.server.token_file).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def open_uploader(config: Config, stamp, *, session=None) -> tuple[Uploader | None, str]:
    """An uploader on its own connection to the terminal's file, or None and why not."""
    if not config.server.url:
        return None, "not provisioned: run `kiosk provision` (ratings are kept until then)"
    token = read_token(config)
    if token is None:
        return None, f"no device token in {config.server.token_file}: run `kiosk provision`"
    local = LocalRatings(config.storage.path)
    # Ratings pressed while the terminal was unprovisioned (or by the app still running while
    # `kiosk provision` ran) carry another id; they never left this terminal, so they upload as this one.
    adopted = local.relabel_unsynced(config.terminal.id)
    if adopted:
        log.info("%d rating(s) stored before enrolment will upload as %s", adopted, config.terminal.id)
    uploader = Uploader(
        local, server_url=config.server.url, token=token, stamp=stamp,
        app_version=this_version(), session=session or make_session(ca_bundle=config.server.ca_bundle or None),
        batch_size=config.server.batch_size, pause_s=config.server.pause_s,
        heartbeat_s=config.server.heartbeat_s, allow_http=config.server.allow_http,
        drain_spread_s=config.server.drain_spread_s, outage_s=config.server.outage_s,
    )
    return uploader, f"to {config.server.url}"


def this_version() -> str:
    """The version this program is (a release's ``VERSION`` in the bundle, else the package's)."""
    from .updates import running_version

    return running_version(sys.executable, bool(getattr(sys, "frozen", False)), __version__)


def open_updates(config: Config, uploader: Uploader, *, slot: str | None, state_path: str | None = None):
    """The terminal's updater, riding on the uploader's session and heartbeats; its interrupted work resumed."""
    from .updates import Updater

    from sync import http

    # Its own session, without the uploader's quick retries: a broken download resumes from its .part instead
    # of being fetched again from the start by a retry underneath.
    session = http.make_session(retries=None, ca_bundle=config.server.ca_bundle or None,
                                user_agent=http.user_agent("terminal"))
    updates = Updater(config.updates, server_url=uploader.server_url, token=uploader.token,
                      session=session, version=this_version(), slot=slot, state_path=state_path)
    updates.begin()
    uploader.updates = updates
    return updates


def open_terminal(config: Config, *, mock_pins: bool = False, pin_factory=None, store=None,
                  clock=None, sync: bool = False, slot: str | None = None,
                  update_state: str | None = None) -> Terminal:
    """Open the store (sealing what a crash left open), the flow and the panel.

    Without GPIO (and without ``mock_pins``) the terminal still runs, by
    touch only, and says so in its status. With ``sync``, an uploader is
    made (not started) when the terminal is provisioned; when the disk was
    full at the start, :meth:`Terminal.start_uploading` makes it once the
    file is shared again.

    ``config`` is the local file's; the remote settings the terminal applied before are laid on top of it
    (``Terminal.config``), so a restarted terminal runs them from its first frame.
    """
    store = store or RatingStore(config.storage.path, terminal_id=config.terminal.id, alone_when_full=True)
    local = config
    try:
        with store._lock:
            config = effective_config(local, store.db)
    except Exception as exc:  # sqlite3 errors (a full disk): the local file alone
        log.warning("the remote settings applied before cannot be read (%s); the terminal runs its file alone", exc)
    if config is not local:
        log.info("remote settings applied: %s", config.source)
    store.keep_mark()
    try:
        store.seal_open_ratings()
        store.close_open_invitations()  # nobody can answer an invitation from before the stop
        store.mark_started()
    except StoreError as exc:
        # A full disk: the screens still start, and say that no rating can be taken until space returns.
        log.error("the terminal starts without taking ratings: %s", exc)
    flow = RatingFlow.from_config(store, config, **({"clock": clock} if clock else {}))
    if mock_pins and pin_factory is None:
        pin_factory = hardware.mock_pin_factory()
    panel = keyboard = panel_error = None
    try:
        panel = hardware.ButtonPanel.from_config(config, pin_factory=pin_factory)
    except hardware.HardwareError as exc:
        note = f"not available ({exc}); the terminal works by touch only"
        panel_error = str(exc)
        log.warning("buttons %s", note)
    else:
        wire_panel(flow, panel, beep=config.feedback.beep)
        note = ("mock pins driven by keys 1-9 and 0: " if mock_pins else "") + panel.describe()
        if mock_pins:
            keyboard = hardware.KeyboardBridge(panel)
    later = sync and store.alone
    if later:
        # The file is this process's alone until space returns: the uploader's connection cannot open it yet;
        # Terminal.start_uploading opens it once the storage watch sees the file shared again.
        uploader, sync_note = None, ("waiting: the disk was full when the terminal started; uploads start by "
                                     "themselves once space is back")
    else:
        uploader, sync_note = open_uploader(config, store.clock.stamp) if sync else (None, "off")
    if uploader is not None:
        flow.add_listener(lambda event: uploader.wake())
    watch = StorageWatch(store)
    flow.add_listener(watch.pressed)
    terminal = Terminal(config, store, flow, panel, keyboard, note, uploader, sync_note, panel_error, watch=watch,
                        upload_when_shared=later, local_config=local, slot_info=(slot, update_state))
    if uploader is not None:
        terminal.follow_settings(uploader)
        terminal.updates = open_updates(config, uploader, slot=slot, state_path=update_state)
        terminal.updates.on_commit = terminal.schedule_schema_after_commit
    return terminal
