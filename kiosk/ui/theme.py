"""Colours of the screens (plain tuples, no Kivy), shared by the ``.kv`` files.

Dark text on light surfaces everywhere a citizen reads (contrast 12:1 or
more); each rating keeps its face colour on the tile's border, a light tint of
it behind the face, and a deeper tint while the tile is held down.
"""

from __future__ import annotations


def rgba(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """``"#RRGGBB"`` as a Kivy colour."""
    value = hex_colour.lstrip("#")
    return (*(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)), alpha)


BACKGROUND = rgba("#F3F5F8")
SURFACE = rgba("#FFFFFF")
SURFACE_PRESSED = rgba("#DCE4EF")
BORDER = rgba("#B8C3D1")
TEXT = rgba("#1B1F24")
TEXT_MUTED = rgba("#47505C")
BRAND = rgba("#123A6B")        # the header band: deep navy
BRAND_PRESSED = rgba("#0B2748")
ON_BRAND = rgba("#FFFFFF")
ON_BRAND_MUTED = rgba("#C9D6E8")
WARNING = rgba("#A3261B")      # dark red text on light surfaces (7:1)

#: Border colour of each rating tile: the face colour, a shade darker so the
#: border stands out on the light tint.
ACCENT = {
    "very_satisfied": rgba("#3E9B33"),
    "satisfied": rgba("#2A6FB8"),
    "dissatisfied": rgba("#B8372A"),
}
TINT = {
    "very_satisfied": rgba("#EAF6E7"),
    "satisfied": rgba("#E6EFFA"),
    "dissatisfied": rgba("#FBE9E6"),
}
TINT_PRESSED = {
    "very_satisfied": rgba("#C9E9C1"),
    "satisfied": rgba("#C3D8F2"),
    "dissatisfied": rgba("#F4C7BF"),
}

#: The sync indicator: a small dot in the bottom-right corner, pale enough that
#: a citizen does not notice it; a technician reads its colour.
SYNC_DOT = {
    "off": rgba("#B8C3D1", 0.6),      # not provisioned: nothing to upload to
    "ok": rgba("#3E9B33", 0.45),      # the last upload or heartbeat went through
    "failing": rgba("#D99A00", 0.8),  # retrying (no network, server busy)
    "refused": rgba("#B8372A", 0.8),  # the server refused the token: re-provision
}
