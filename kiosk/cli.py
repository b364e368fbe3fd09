"""The ``kiosk`` command: parse options, resolve settings, call the library, print.

This and the other entry points are the only places that read the
environment; everything below gets its settings passed in.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from . import __version__
from .config import load_config
from .errors import ConfigError, KioskError, StoreError
from .ratings import RATING_LABELS, RATINGS

log = logging.getLogger("kiosk")

#: Where a provisioned Raspberry Pi keeps its config (see deploy/).
SYSTEM_CONFIG = Path("/etc/hai-long/kiosk.toml")

RATING_LABELS_FOR_TECHNICIANS = {
    **{level: f"the {RATING_LABELS['en'][level].lower().replace(' ', '-')} button ({RATING_LABELS['vi'][level]})"
       for level in RATINGS},
    "skip": "the skip button (Bỏ qua)",
    **{f"reason_{n}": f"reason button {n}" for n in range(1, 7)},
}


def resolve_config(config_path: str | None):
    """--config, then $KIOSK_CONFIG (click fills it in), then /etc/hai-long/kiosk.toml, then defaults."""
    if config_path is None and SYSTEM_CONFIG.exists():
        config_path = str(SYSTEM_CONFIG)
    return load_config(config_path)


def setup_logging(level: str, config=None) -> None:
    """Log to stderr (the journal under systemd); with ``config``, also to kiosk.log beside the database."""
    from .logs import log_path, under_systemd
    from .logs import setup_logging as start_logging

    start_logging(level, log_file=log_path(config) if config is not None else None,
                  under_systemd=under_systemd(os.environ),
                  max_kb=config.log.file_max_kb if config is not None else 0,
                  count=config.log.file_count if config is not None else 1)


config_option = click.option(
    "--config", "config_path", envvar="KIOSK_CONFIG", type=click.Path(dir_okay=False),
    help=f"The terminal's TOML config (default: $KIOSK_CONFIG, then {SYSTEM_CONFIG}, then built-in defaults).",
)
mock_pins_option = click.option(
    "--mock-pins", is_flag=True,
    help="Use gpiozero's MockFactory; keys 1-3 press the rating buttons, 4-9 reasons 1-6, 0 skip.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk")
def cli():
    """Hài Lòng satisfaction terminal."""


@cli.command()
@config_option
@mock_pins_option
@click.option("--windowed", is_flag=True, help="A normal window with a cursor, not fullscreen kiosk mode.")
def run(config_path, mock_pins, windowed):
    """Run the terminal: rating screens, buttons, local storage."""
    from .checks import blocking, check_database, check_disk, check_gpio, disk_is_full, format_checks

    config = resolve_config(config_path)
    # The database's folder first: the log file lives beside it. The file itself is checked after the
    # store has opened it, which moves a damaged file aside. A full disk does not stop the terminal: its
    # screens say that it cannot take ratings, and it takes them again once space returns.
    folder = check_database(config.storage.path, file=False)
    full = bool(blocking([folder])) and disk_is_full(config.storage.path)
    if blocking([folder]) and not full:
        raise KioskError(f"cannot start: {folder.message}")
    setup_logging(config.log.level, config)
    disk = check_disk(config.storage.path, config.storage.min_free_mb)
    kivy_home = Path(config.storage.path).resolve().parent / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)
    # Kivy reads these at import: no argv parsing, Python logging, its files beside the data.
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_HOME", str(kivy_home))
    # The spoken prompts play through SDL_mixer (the one audio provider in the bundle), never GStreamer.
    os.environ.setdefault("KIVY_AUDIO", "sdl2")
    # Before Kivy reads it: a config cut short by a power cut would stop every start with a traceback.
    from .ui.kivy_home import repair_kivy_config

    repair_kivy_config(Path(os.environ["KIVY_HOME"]) / "config.ini")
    from .terminal import open_terminal

    # deploy/hai-long-launch says which A/B slot this is and whether it is on trial (kiosk/updates.py).
    from . import migrations
    from .updates import SLOT_ENV, STATE_ENV, TRIAL_ENV

    migrations.hold_non_additive = os.environ.get(TRIAL_ENV) == "1"
    terminal = open_terminal(config, mock_pins=mock_pins, sync=True, slot=os.environ.get(SLOT_ENV) or None,
                             update_state=os.environ.get(STATE_ENV) or None)
    database = folder if full else check_database(config.storage.path)
    log.info("terminal %s starting (%s); buttons: %s; upload: %s", config.terminal.id, terminal.config.source,
             terminal.hardware_note, terminal.sync_note)
    from .checks import check_clock
    from .timekeeping import clock_is_synced

    import hardware

    gpio = check_gpio(mock_pins=mock_pins, probe=hardware.probe_gpio, error=terminal.panel_error)
    terminal.checks = [database, disk, gpio, check_clock(clock_is_synced())]
    # `kiosk status` cannot know this run's --mock-pins: it reads what the running terminal uses from here.
    try:
        terminal.store.set_meta(gpio_check=json.dumps(gpio.to_dict()), buttons=terminal.hardware_note)
    except StoreError as exc:
        log.warning("cannot note the buttons for `kiosk status`: %s", exc)
    for check, line in zip(terminal.checks, format_checks(terminal.checks)):
        (log.info if check.ok else log.warning)("startup check %s", line)
    terminal.start_uploading()
    terminal.watch.start()
    # systemd stops the terminal with SIGTERM: leave through the same door as Ctrl-C, surely.
    from .stopping import exit_on_sigterm

    exit_on_sigterm()
    try:
        from .ui.launch import launch

        outcome = launch(terminal, windowed=windowed)
    finally:
        terminal.close()
        log.info("terminal %s stopped", config.terminal.id)
    if outcome == "restart":
        from .restart import restart_terminal

        restart_terminal()
    elif outcome == "update":
        from .restart import restart_through_launcher
        from .updates import LAUNCHER_ENV

        restart_through_launcher(os.environ.get(LAUNCHER_ENV))
    elif outcome == "leave":
        from .restart import LEFT_KIOSK_STATUS

        sys.exit(LEFT_KIOSK_STATUS)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(config_path, as_json):
    """Show counts, backlog, database and clock state, startup checks and the last errors of this terminal."""
    import hardware

    from .checks import FAIL, Check, check_renderer, format_checks, pi_model, startup_checks
    from .logs import log_path
    from .status import format_status, terminal_status
    from .store import RatingStore

    config = resolve_config(config_path)
    path = Path(config.storage.path)
    checks = startup_checks(config, gpio_probe=hardware.probe_gpio)
    if not path.exists() or not checks[0].ok:
        for line in format_checks(checks):
            click.echo(line, err=True)
    if not path.exists():
        raise KioskError(f"no database at {path.resolve()} yet: start the terminal with `kiosk run` first "
                         f"(or pass the right --config)")
    # Opened as it is: recovery (moving a bad file aside) is only for `kiosk run`.
    from sqlite_utils import Database
    import sqlite3

    try:
        store = RatingStore(Database(path), terminal_id=config.terminal.id)
    except sqlite3.DatabaseError as exc:
        from .checks import disk_is_full

        if disk_is_full(path):  # nothing wrong with the file: no room for its index, or the terminal holds it
            raise KioskError(f"the database {path.resolve()} cannot be read while the disk is full ({exc}): "
                             "free some space (old logs, files in /tmp); the terminal takes ratings again by "
                             "itself") from None
        raise KioskError(f"the database {path.resolve()} cannot be read ({exc}); "
                         "`kiosk run` will move it aside and start a fresh one") from None
    try:
        meta = store.meta()
        renderer = meta.get("gl_renderer")
        if renderer:  # what the screens saw when they last started
            seen = check_renderer(renderer, pi_model=pi_model())
            checks = [seen if check.name == seen.name else check for check in checks]
        if meta.get("gpio_check"):  # what `kiosk run` drives (mock pins, GPIO, or nothing) since its last start
            run_gpio = Check(**json.loads(meta["gpio_check"]))
            run_gpio = Check(run_gpio.name, run_gpio.level,
                             f"{run_gpio.message} (as `kiosk run` found it at its start, {meta.get('last_start')})")
            checks = [run_gpio if check.name == run_gpio.name else check for check in checks]
        info = terminal_status(config, store, hardware=meta.get("buttons"), checks=checks,
                               log_file=log_path(config))
        info["board"] = hardware.read_board().describe()  # which Pi (hardware/board.py)
    finally:
        store.close()
    from .updates import STATE_ENV, update_status

    info["updates"] = update_status(config.updates, state_path=os.environ.get(STATE_ENV) or None)
    click.echo(json.dumps(info, ensure_ascii=False, indent=2) if as_json else format_status(info))
    if any(check.level == FAIL for check in checks):
        sys.exit(1)


@cli.command()
@config_option
@mock_pins_option
@click.option("--timeout", "timeout_s", type=float, default=15.0, show_default=True,
              help="Seconds to wait for each button.")
def selftest(config_path, mock_pins, timeout_s):
    """Light each LED, beep, then ask for each button; exit 0 only if all were seen.

    With --mock-pins the buttons are pressed by typing their keys (1-9, 0) and Enter.
    """
    import hardware

    config = resolve_config(config_path)
    setup_logging("WARNING")
    click.echo(f"Board: {hardware.read_board().describe()}")
    factory = hardware.mock_pin_factory() if mock_pins else None
    try:
        panel = hardware.ButtonPanel.from_config(config, pin_factory=factory)
    except hardware.HardwareError as exc:
        raise KioskError(f"{exc}. On a Raspberry Pi, check that lgpio is installed and that this user "
                         "may use /dev/gpiochip*; elsewhere try --mock-pins") from None
    try:
        on_prompt = _keys_from_stdin(hardware.KeyboardBridge(panel)) if mock_pins else None
        result = hardware.run_selftest(panel, say=click.echo, timeout_s=timeout_s,
                                       labels=RATING_LABELS_FOR_TECHNICIANS, on_prompt=on_prompt)
    finally:
        panel.close()
    if result.ok:
        click.echo(f"Self-test passed: all {len(result.seen)} buttons seen.")
        return
    click.echo(f"Self-test FAILED: not seen: {', '.join(result.missing)}.", err=True)
    sys.exit(1)


def _keys_from_stdin(bridge):
    """Mock mode: at each prompt, the next line typed on stdin taps its keys."""
    import threading
    import time

    def press_next(_name):
        def tap_line():
            line = sys.stdin.readline()
            for key in line.strip():
                bridge.key_down(key)
                time.sleep(0.06)  # longer than the bounce time
                bridge.key_up(key)

        threading.Thread(target=tap_line, name="selftest-keys", daemon=True).start()

    return press_next


class BadInput(click.ClickException):
    """Input that cannot be used, said in one sentence (exit 2, as for a config error)."""

    exit_code = 2

    def show(self, file=None):
        click.echo(f"kiosk: {self.format_message()}", err=True)


@cli.command()
@click.argument("enrolment", required=False, metavar="[STRING]")
@config_option
@click.option("--server", "server_url", help="The central server's address, e.g. https://hailong.example.vn.")
@click.option("--code", help="The one-time enrolment code from `kiosk-server enroll-code`.")
@click.option("--force", is_flag=True, help="Re-provision a terminal that already has an id (ratings are kept).")
@click.option("--release-key", "release_key", metavar="KEY",
              help="The release public key (the .pub file from `kiosk-release keygen`, or its one line of base64): "
                   "the terminal takes software updates signed by it only.")
def provision(enrolment, config_path, server_url, code, force, release_key):
    """Enrol this terminal with the central server and write its id, address and token.

    STRING is the enrolment string from `kiosk-server enroll-code --server URL` (hailong1:...), as printed,
    pasted or scanned from its QR code; or give --server and --code. The server and its TLS certificate are
    checked before anything is written.
    """
    from sync.enrollment import EnrollmentStringError, parse_enrollment_string

    from .provisioning import provision_terminal

    if enrolment and (server_url or code):
        raise BadInput("give the enrolment string, or --server and --code, not both")
    if enrolment:
        try:
            server_url, code = parse_enrollment_string(enrolment)
        except EnrollmentStringError as exc:
            raise BadInput(str(exc)) from None
    elif not server_url or not code:
        raise click.UsageError("give the enrolment string (hailong1:...), or both --server URL and --code CODE "
                               "(from `kiosk-server enroll-code`)")
    if release_key:
        release_key = _release_key(release_key)
    path = Path(config_path) if config_path else SYSTEM_CONFIG
    setup_logging("ERROR")  # urllib3's retry warnings would bury the one sentence that matters
    for line in provision_terminal(path, server_url, code, force=force, release_key=release_key):
        click.echo(line)


def _release_key(value: str) -> str:
    """The release public key from --release-key: a .pub file's line, or the line itself; checked."""
    from .config import SCHEMA, _check_public_key

    text = value
    if Path(value).is_file():
        try:
            text = Path(value).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"--release-key: {value} cannot be read ({exc})") from None
    try:
        return _check_public_key("--release-key", text, SCHEMA["updates"]["public_key"])
    except ConfigError as exc:
        raise BadInput(str(exc)) from None


@cli.command("sync")
@config_option
@click.option("--once", is_flag=True, required=True, help="Send everything pending now, then stop.")
def sync_command(config_path, once):
    """Upload pending ratings now and say what happened (for technicians)."""
    from .store import RatingStore
    from .terminal import open_uploader

    config = resolve_config(config_path)
    setup_logging("ERROR")  # each failed try is summed up below, in one sentence
    store = RatingStore(config.storage.path, terminal_id=config.terminal.id)
    try:
        uploader, why = open_uploader(config, store.clock.stamp)
        if uploader is None:
            raise KioskError(f"cannot sync: {why}")
        try:
            report = uploader.drain(max_failures=3)
        finally:
            uploader.local.close()
        click.echo(f"Sent {report['sent']} rating(s) in {report['batches']} request(s) to {config.server.url}.")
        click.echo(f"Still waiting to upload: {report['pending']}; "
                   f"kept aside (conflicts and refused ratings, not sent again): {report['quarantined']}.")
        if report["clock_offset_s"] is not None:
            click.echo(f"Clock offset reported by the server: {report['clock_offset_s']:+.1f} s.")
        if report["last_error"]:
            click.echo(f"Last error: {report['last_error']}", err=True)
        # A refusal the server will repeat (a revoked token, a refused batch) fails even when nothing waits.
        if report["pending"] or report["auth_refused"] or report["batch_refused"]:
            sys.exit(1)
    finally:
        store.close()


@cli.command("pin-hash")
@click.option("--pin", prompt="New service PIN (digits)", hide_input=True, confirmation_prompt=True,
              help="The PIN; asked for (hidden) when not given.")
def pin_hash(pin):
    """Print the hash of a service-screen PIN, for [service] pin_hash."""
    from .service_pin import hash_pin

    try:
        value = hash_pin(pin)
    except ValueError as exc:
        raise KioskError(str(exc)) from None
    click.echo(f'pin_hash = "{value}"')


def main(argv=None):
    """Console-script entry point: exit 2 on a config error, 1 on other known errors."""
    try:
        cli.main(args=argv, prog_name="kiosk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"kiosk: config error: {exc}", err=True)
        sys.exit(2)
    except KioskError as exc:
        click.echo(f"kiosk: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
