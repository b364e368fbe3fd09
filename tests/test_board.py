"""Raspberry Pi detection (hardware/board.py) and what gpiozero's default pin factory does with the same files.

A Pi is a tree of files here: ``tmp_path`` holds a fake ``proc/device-tree``,
``proc/cpuinfo`` and ``dev/gpiochip*``, written as a Pi 3, 4 or 5 writes them.
gpiozero's own code (its revision lookup, its order lgpio, RPi.GPIO, pigpio,
native, and LGPIOFactory's choice of chip) runs unchanged with its reads of
``/proc`` and ``/dev`` sent into that tree; only ``lgpio.gpiochip_open``, which
needs a real GPIO character device, is replaced by one that opens the tree's
``dev/gpiochipN`` or fails as lgpio does. The same checks run in the arm64 root
(``make arm64``) with lgpio's aarch64 build.
"""

from __future__ import annotations

import io
import os
import struct
import types
import warnings
from pathlib import Path

import lgpio
import pytest
from gpiozero import Device
from gpiozero.exc import BadPinFactory

import hardware
from hardware import board as board_module
from hardware.board import Board, gpio_expectation, read_board

PI4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08

Revision\t: c03114
Serial\t\t: 10000000a1b2c3d4
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""
X86_CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\n"


def make_tree(root: Path, *, model: str | None = None, revision: int | None = None, cpuinfo: str = "",
              chips: tuple[str, ...] = ()) -> Path:
    """A fake machine: the device-tree files (when ``model``/``revision`` given), cpuinfo and gpiochips."""
    (root / "proc").mkdir(parents=True)
    (root / "dev").mkdir()
    if model is not None or revision is not None:
        system = root / "proc" / "device-tree" / "system"
        system.mkdir(parents=True)
        if model is not None:
            (root / "proc" / "device-tree" / "model").write_bytes(model.encode() + b"\0")
        if revision is not None:
            (system / "linux,revision").write_bytes(struct.pack(">L", revision))
    (root / "proc" / "cpuinfo").write_text(cpuinfo)
    for chip in chips:
        (root / "dev" / chip).write_bytes(b"")  # a placeholder: only its presence is looked at
    return root


@pytest.fixture
def gpiozero_in(monkeypatch):
    """Point gpiozero's reads of /proc and /dev (and lgpio's gpiochip_open) at a fake tree; return the opens."""
    opened: list[int] = []

    def use(tree: Path):
        def inside(path):
            path = os.fspath(path)
            return str(tree / path.lstrip("/")) if path.startswith(("/proc/", "/dev/")) else path

        monkeypatch.setattr("gpiozero.pins.local.io", types.SimpleNamespace(
            open=lambda path, *args, **kwargs: io.open(inside(path), *args, **kwargs)))
        monkeypatch.setattr("gpiozero.pins.lgpio.os", types.SimpleNamespace(
            path=types.SimpleNamespace(exists=lambda path: os.path.exists(inside(path)))))

        def gpiochip_open(chip):
            if not os.path.exists(inside(f"/dev/gpiochip{chip}")):
                raise lgpio.error("can not open gpiochip")  # lgpio's own words for a missing chip
            opened.append(chip)
            return 100 + chip

        monkeypatch.setattr(lgpio, "gpiochip_open", gpiochip_open)
        monkeypatch.setattr(lgpio, "gpiochip_close", lambda handle: None)

        class NoGpioMemory:  # the native factory's last resort: /dev/gpiomem, then /dev/mem; neither in the tree
            def __init__(self, soc):
                raise OSError(f"no {inside('/dev/gpiomem')}")

        monkeypatch.setattr("gpiozero.pins.native.GPIOMemory", NoGpioMemory)
        monkeypatch.setattr(board_module, "ROOT", tree)
        monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
        return opened

    monkeypatch.setattr(Device, "pin_factory", None)
    yield use
    if Device.pin_factory is not None:  # probe_gpio() set one: closed while lgpio is still the stand-in
        Device.pin_factory.close()
        Device.pin_factory = None


def default_factory():
    """gpiozero's own choice, as a Button with no pin_factory would make it (fallback warnings kept)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            factory = Device._default_pin_factory()
        except BadPinFactory:
            factory = None
    if factory is not None:
        factory.close()
    return factory, [str(w.message) for w in caught]


# -- the model -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, model", [
    (0xc03114, "Raspberry Pi 4 Model B Rev 1.4"),
    (0xd03115, "Raspberry Pi 4 Model B Rev 1.5"),
    (0xa02082, "Raspberry Pi 3 Model B Rev 1.2"),
    (0xa020d3, "Raspberry Pi 3 Model B+ Rev 1.3"),
    (0x9020e0, "Raspberry Pi 3 Model A+ Rev 1.0"),
    (0x902120, "Raspberry Pi Zero 2 W Rev 1.0"),
    (0xc04170, "Raspberry Pi 5 Rev 1.0"),
    (0xb03140, "Raspberry Pi Compute Module 4 Rev 1.0"),
    (0xc03130, "Raspberry Pi 400 Rev 1.0"),
    (0x0010, "Raspberry Pi Model B+ Rev 1.2"),
])
def test_revision_codes_name_the_model(code, model):
    assert board_module.model_from_revision(code) == model


def test_unknown_revision_codes_name_nothing():
    assert board_module.model_from_revision(0x8000F0) is None  # new style, type 0x0F: none such
    assert board_module.model_from_revision(0x0001) is None


def test_a_pi_4_from_its_device_tree(tmp_path):
    tree = make_tree(tmp_path, model="Raspberry Pi 4 Model B Rev 1.4", revision=0xc03114,
                     chips=("gpiochip0", "gpiochip1"))
    board = read_board(tree)
    assert board == Board("Raspberry Pi 4 Model B Rev 1.4", 0xc03114, ("gpiochip0", "gpiochip1"))
    assert board.describe() == ("Raspberry Pi 4 Model B Rev 1.4 (revision c03114: 4GB, BCM2711, Sony UK); "
                                "GPIO: gpiochip0, gpiochip1")


def test_a_pi_from_cpuinfo_alone(tmp_path):
    """No device tree (an old kernel, a container): cpuinfo's Model line, else its Revision code."""
    tree = make_tree(tmp_path, cpuinfo=PI4_CPUINFO, chips=("gpiochip0",))
    assert (read_board(tree).model, read_board(tree).revision) == ("Raspberry Pi 4 Model B Rev 1.4", 0xc03114)
    (tree / "proc" / "cpuinfo").write_text("processor\t: 0\nHardware\t: BCM2835\nRevision\t: a02082\n")
    assert read_board(tree).model == "Raspberry Pi 3 Model B Rev 1.2"


def test_an_over_volted_first_pi_keeps_its_code(tmp_path):
    tree = make_tree(tmp_path, cpuinfo="Hardware\t: BCM2708\nRevision\t: 1000000e\n")
    assert read_board(tree).revision == 0x000e
    assert read_board(tree).model == "Raspberry Pi Model B Rev 2.0"


def test_a_pc_is_not_a_pi_even_with_a_gpiochip(tmp_path):
    tree = make_tree(tmp_path, cpuinfo=X86_CPUINFO, chips=("gpiochip0",))
    board = read_board(tree)
    assert (board.model, board.revision, board.is_pi) == (None, None, False)
    assert board.describe().startswith("not a Raspberry Pi")


# -- gpiozero's choice, and ours ------------------------------------------------------------------------------

@pytest.mark.parametrize("tree_args, chip", [
    ({"model": "Raspberry Pi 4 Model B Rev 1.4", "revision": 0xc03114, "chips": ("gpiochip0", "gpiochip1")}, 0),
    ({"cpuinfo": PI4_CPUINFO, "chips": ("gpiochip0",)}, 0),  # the revision from cpuinfo only
    ({"model": "Raspberry Pi 3 Model B Rev 1.2", "revision": 0xa02082, "chips": ("gpiochip0",)}, 0),
    # A Pi 5 on a kernel where the header's GPIO is gpiochip4 (gpiochip0 is another block)
    ({"model": "Raspberry Pi 5 Model B Rev 1.0", "revision": 0xd04170, "chips": ("gpiochip0", "gpiochip4")}, 4),
    ({"model": "Raspberry Pi 5 Model B Rev 1.0", "revision": 0xd04170, "chips": ("gpiochip0",)}, 0),
])
def test_gpiozero_picks_lgpio_on_a_pi_with_a_gpiochip(tmp_path, gpiozero_in, tree_args, chip):
    opened = gpiozero_in(make_tree(tmp_path, **tree_args))
    factory, warned = default_factory()
    assert type(factory).__name__ == "LGPIOFactory", warned
    assert (factory.chip, opened) == (chip, [chip])
    assert warned == []  # lgpio was the first choice: nothing fell back
    # hardware.board foresees the same factory and chip from the same files.
    expected, why = gpio_expectation(read_board(tmp_path), lgpio_installed=True)
    assert (expected, why.split(" (")[0]) == ("LGPIOFactory", f"buttons through lgpio on /dev/gpiochip{chip}")
    # and `kiosk`'s own probe names it.
    assert hardware.probe_gpio() == "LGPIOFactory"


@pytest.mark.parametrize("tree_args, reason", [
    ({"cpuinfo": X86_CPUINFO, "chips": ("gpiochip0",)},
     "this machine is not a Raspberry Pi (gpiozero finds no Pi revision in /proc/device-tree or /proc/cpuinfo)"),
    ({"cpuinfo": X86_CPUINFO},
     "this machine is not a Raspberry Pi (gpiozero finds no Pi revision in /proc/device-tree or /proc/cpuinfo)"),
    ({"model": "Raspberry Pi 4 Model B Rev 1.4", "revision": 0xc03114},
     "this Raspberry Pi 4 Model B Rev 1.4 has no /dev/gpiochip0 (is the GPIO driver loaded, and may this user "
     "open it?)"),
])
def test_without_a_pi_or_its_gpiochip_the_terminal_runs_by_touch_only(tmp_path, gpiozero_in, tree_args, reason,
                                                                      monkeypatch):
    opened = gpiozero_in(make_tree(tmp_path / "machine", **tree_args))
    factory, warned = default_factory()
    assert factory is None and opened == []
    assert any(w.startswith("Falling back from lgpio") for w in warned), warned  # lgpio was tried first
    assert gpio_expectation(read_board(tmp_path / "machine"), lgpio_installed=True) == (None, reason)

    from kiosk.config import parse_config
    from kiosk.terminal import open_terminal

    monkeypatch.setattr(Device, "pin_factory", None)
    config = parse_config({"terminal": {"id": "board-01"}, "storage": {"path": str(tmp_path / "kiosk.db")}})
    terminal = open_terminal(config)
    try:
        assert (terminal.panel, terminal.keyboard) == (None, None)
        # One sentence, saying why: the status and the log show it as it is.
        assert terminal.hardware_note == (f"not available (no GPIO on this machine that gpiozero can drive: "
                                          f"{reason}); the terminal works by touch only")
        assert terminal.status()["hardware"] == terminal.hardware_note and ". " not in terminal.hardware_note
        terminal.flow.press("satisfied", source="touch")  # and takes ratings by touch
        assert terminal.store.counts()["satisfied"] == 1
    finally:
        terminal.close()


def test_the_probe_says_lgpio_is_missing_on_a_pi_without_it(tmp_path, gpiozero_in, monkeypatch):
    gpiozero_in(make_tree(tmp_path, model="Raspberry Pi 4 Model B Rev 1.4", revision=0xc03114,
                          chips=("gpiochip0",)))
    monkeypatch.setattr(board_module, "lgpio_installed", lambda: False)
    assert board_module.no_gpio_reason() == ("lgpio is not installed on this Raspberry Pi 4 Model B Rev 1.4 "
                                             "(install the [pi] extra)")
