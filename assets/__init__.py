"""Images and sounds of the terminal, found from the package (or the frozen bundle)."""

import sys
from pathlib import Path


def path(name: str) -> str:
    """The absolute path of asset ``name`` (e.g. ``"faces/satisfied.png"``)."""
    base = Path(getattr(sys, "_MEIPASS", "")) / "assets" if hasattr(sys, "_MEIPASS") else Path(__file__).parent
    return str(base / name)
