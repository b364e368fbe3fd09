"""Which Raspberry Pi is this, and would gpiozero drive its buttons through lgpio?

The model comes from ``/proc/device-tree/model`` (what the Pi's firmware names
it), else from the ``Model`` or the ``Revision`` line of ``/proc/cpuinfo``; the
revision code is read where gpiozero reads it (``/proc/device-tree/system/
linux,revision``, else cpuinfo's ``Revision``), because gpiozero looks for it
before it even tries lgpio: no revision, no lgpio, whatever the machine has.

    >>> model_from_revision(0xc03114)
    'Raspberry Pi 4 Model B Rev 1.4'
    >>> describe_revision(0xd04170)
    'Raspberry Pi 5 Rev 1.0, 8GB, BCM2712, Sony UK'

Every reader takes ``root`` (default :data:`ROOT`, ``/``) so that tests read a fake tree.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

# The "new-style" revision code (bit 23 set): NOQuuuWuFMMMCCCCPPPPTTTTTTTTRRRR.
# https://www.raspberrypi.com/documentation/computers/raspberry-pi.html#raspberry-pi-revision-codes
TYPES = {
    0x00: "A", 0x01: "B", 0x02: "A+", 0x03: "B+", 0x04: "2 Model B", 0x05: "Alpha", 0x06: "Compute Module 1",
    0x08: "3 Model B", 0x09: "Zero", 0x0A: "Compute Module 3", 0x0C: "Zero W", 0x0D: "3 Model B+",
    0x0E: "3 Model A+", 0x10: "Compute Module 3+", 0x11: "4 Model B", 0x12: "Zero 2 W", 0x13: "400",
    0x14: "Compute Module 4", 0x15: "Compute Module 4S", 0x17: "5", 0x18: "Compute Module 5", 0x19: "500",
    0x1A: "Compute Module 5 Lite",
}
MEMORY = {0: "256MB", 1: "512MB", 2: "1GB", 3: "2GB", 4: "4GB", 5: "8GB", 6: "16GB"}
PROCESSORS = {0: "BCM2835", 1: "BCM2836", 2: "BCM2837", 3: "BCM2711", 4: "BCM2712"}
MAKERS = {0: "Sony UK", 1: "Egoman", 2: "Embest", 3: "Sony Japan", 4: "Embest", 5: "Stadium"}
# The first Pis (before the new style): code -> (type, revision, memory).
OLD_STYLE = {
    0x2: ("B", "1.0", "256MB"), 0x3: ("B", "1.0", "256MB"), 0x4: ("B", "2.0", "256MB"),
    0x5: ("B", "2.0", "256MB"), 0x6: ("B", "2.0", "256MB"), 0x7: ("A", "2.0", "256MB"),
    0x8: ("A", "2.0", "256MB"), 0x9: ("A", "2.0", "256MB"), 0xD: ("B", "2.0", "512MB"),
    0xE: ("B", "2.0", "512MB"), 0xF: ("B", "2.0", "512MB"), 0x10: ("B+", "1.2", "512MB"),
    0x11: ("Compute Module 1", "1.0", "512MB"), 0x12: ("A+", "1.1", "256MB"), 0x13: ("B+", "1.2", "512MB"),
    0x14: ("Compute Module 1", "1.0", "512MB"), 0x15: ("A+", "1.1", "256MB"),
}
#: Where the readers look by default; tests point it at a fake tree.
ROOT = Path("/")
PI5_TYPES = {0x17, 0x18, 0x19, 0x1A}  # their header's GPIO is gpiochip4 on older kernels (gpiozero's rule)


def _type_name(kind: str) -> str:
    return f"Raspberry Pi {kind}" if kind[0].isdigit() or kind.startswith(("Zero", "Compute")) \
        else f"Raspberry Pi Model {kind}"


def decode_revision(code: int) -> dict | None:
    """The fields of a revision code, or None when the code names no known Pi.

        >>> decode_revision(0xa02082)["type"]
        '3 Model B'
        >>> decode_revision(0x0010)["memory"]
        '512MB'
        >>> decode_revision(0x1234) is None
        True
    """
    if code & (1 << 23):
        kind = TYPES.get((code >> 4) & 0xFF)
        if kind is None:
            return None
        return {"type": kind, "type_code": (code >> 4) & 0xFF, "revision": f"1.{code & 0xF}",
                "memory": MEMORY.get((code >> 20) & 0x7, "?"), "processor": PROCESSORS.get((code >> 12) & 0xF, "?"),
                "maker": MAKERS.get((code >> 16) & 0xF, "?")}
    old = OLD_STYLE.get(code & 0xFFFF)
    if old is None:
        return None
    kind, revision, memory = old
    return {"type": kind, "type_code": None, "revision": revision, "memory": memory, "processor": "BCM2835",
            "maker": "?"}


def model_from_revision(code: int) -> str | None:
    """A model name like the firmware's (``"Raspberry Pi 3 Model B Rev 1.2"``), or None for an unknown code.

        >>> model_from_revision(0x902120)
        'Raspberry Pi Zero 2 W Rev 1.0'
        >>> model_from_revision(0x0013)
        'Raspberry Pi Model B+ Rev 1.2'
    """
    fields = decode_revision(code)
    return None if fields is None else f"{_type_name(fields['type'])} Rev {fields['revision']}"


def describe_revision(code: int) -> str | None:
    """Model, memory, processor and maker in one line (None for an unknown code)."""
    fields = decode_revision(code)
    if fields is None:
        return None
    maker = "" if fields["maker"] == "?" else f", {fields['maker']}"
    return f"{model_from_revision(code)}, {fields['memory']}, {fields['processor']}{maker}"


def read_revision(root: Path | str | None = None) -> int | None:
    """The revision code where gpiozero looks for it, or None (then gpiozero says "unknown Pi").

    Like gpiozero, an over-volted Pi's warranty bit (a ``1000`` prefix on old codes) is dropped.
    """
    root = Path(ROOT if root is None else root)
    try:
        raw = (root / "proc/device-tree/system/linux,revision").read_bytes()
        return struct.unpack(">L", raw[:4])[0]
    except (OSError, struct.error):
        pass
    try:
        cpuinfo = (root / "proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"^Revision\s*:\s*([0-9a-fA-F]+)\s*$", cpuinfo, flags=re.M)
    if not found:
        return None
    text = found[-1].lower()
    if text.startswith("100"):
        text = text[-4:]
    return int(text, 16)


def read_model(root: Path | str | None = None) -> str | None:
    """The board's model (``"Raspberry Pi 4 Model B Rev 1.5"``), or None when this is not a Raspberry Pi."""
    root = Path(ROOT if root is None else root)
    try:
        model = (root / "proc/device-tree/model").read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip()
    except OSError:
        model = ""
    if not model:
        try:
            cpuinfo = (root / "proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
        found = re.findall(r"^Model\s*:\s*(.+?)\s*$", cpuinfo, flags=re.M)
        model = found[-1] if found else ""
    if model.startswith("Raspberry Pi"):
        return model
    revision = read_revision(root)
    return None if revision is None else model_from_revision(revision)


@dataclass(frozen=True)
class Board:
    """What a terminal knows of its board; :func:`read_board` makes one."""

    model: str | None           # None: not a Raspberry Pi
    revision: int | None        # the code gpiozero would find, or None
    gpiochips: tuple[str, ...]  # /dev/gpiochip* present, e.g. ("gpiochip0",)

    @property
    def is_pi(self) -> bool:
        return self.model is not None

    def lgpio_chip(self) -> int:
        """The chip gpiozero's LGPIOFactory opens: 4 on a Pi 5 that has gpiochip4, else 0."""
        pi5 = self.revision is not None and ((self.revision >> 4) & 0xFF) in PI5_TYPES
        return 4 if pi5 and "gpiochip4" in self.gpiochips else 0

    def describe(self) -> str:
        """One line for `kiosk status` and `kiosk selftest`.

            >>> Board("Raspberry Pi 4 Model B Rev 1.4", 0xc03114, ("gpiochip0",)).describe()
            'Raspberry Pi 4 Model B Rev 1.4 (revision c03114: 4GB, BCM2711, Sony UK); GPIO: gpiochip0'
            >>> Board(None, None, ()).describe()
            'not a Raspberry Pi (no Pi model in /proc/device-tree, no Revision in /proc/cpuinfo); GPIO: none'
        """
        chips = ", ".join(self.gpiochips) or "none"
        if not self.is_pi:
            return f"not a Raspberry Pi (no Pi model in /proc/device-tree, no Revision in /proc/cpuinfo); GPIO: {chips}"
        detail = ""
        if self.revision is not None and decode_revision(self.revision):
            fields = decode_revision(self.revision)
            maker = "" if fields["maker"] == "?" else f", {fields['maker']}"
            detail = f" (revision {self.revision:x}: {fields['memory']}, {fields['processor']}{maker})"
        return f"{self.model}{detail}; GPIO: {chips}"


def read_board(root: Path | str | None = None) -> Board:
    """The model, revision code and GPIO character devices under ``root``."""
    root = Path(ROOT if root is None else root)
    chips = tuple(sorted((p.name for p in (root / "dev").glob("gpiochip*")), key=_chip_number))
    return Board(read_model(root), read_revision(root), chips)


def _chip_number(name: str) -> int:
    digits = name.removeprefix("gpiochip")
    return int(digits) if digits.isdigit() else 1 << 30


def gpio_expectation(board: Board, *, lgpio_installed: bool) -> tuple[str | None, str]:
    """The pin factory gpiozero's default would give here, and why, in one sentence.

    ``("LGPIOFactory", ...)`` when a Pi revision is found, lgpio imports and
    ``/dev/gpiochipN`` exists; else ``(None, sentence)`` saying what is missing,
    the sentence the terminal shows when it falls back to touch only.

        >>> gpio_expectation(Board(None, None, ()), lgpio_installed=True)[1]
        'this machine is not a Raspberry Pi (gpiozero finds no Pi revision in /proc/device-tree or /proc/cpuinfo)'
        >>> gpio_expectation(Board("Raspberry Pi 4 Model B Rev 1.4", 0xc03114, ("gpiochip0",)), lgpio_installed=True)
        ('LGPIOFactory', 'buttons through lgpio on /dev/gpiochip0 (Raspberry Pi 4 Model B Rev 1.4)')
    """
    if board.revision is None:
        return None, ("this machine is not a Raspberry Pi (gpiozero finds no Pi revision in "
                      "/proc/device-tree or /proc/cpuinfo)")
    name = board.model or f"a board with revision {board.revision:x}"
    if not lgpio_installed:
        return None, f"lgpio is not installed on this {name} (install the [pi] extra)"
    chip = board.lgpio_chip()
    if f"gpiochip{chip}" not in board.gpiochips:
        return None, (f"this {name} has no /dev/gpiochip{chip} (is the GPIO driver loaded, "
                      f"and may this user open it?)")
    return "LGPIOFactory", f"buttons through lgpio on /dev/gpiochip{chip} ({name})"


def lgpio_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("lgpio") is not None


def no_gpio_reason(root: Path | str | None = None) -> str:
    """Why gpiozero's default found no pins here, in one sentence (for the touch-only fallback)."""
    board = read_board(root)
    factory, why = gpio_expectation(board, lgpio_installed=lgpio_installed())
    if factory is not None:  # the board looks right, yet lgpio failed: permissions, a busy line
        return f"lgpio could not open /dev/gpiochip{board.lgpio_chip()} on this {board.model}"
    return why
