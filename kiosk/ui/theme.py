"""Colours and text scale of the screens (plain tuples, no Kivy), shared by the ``.kv`` files.

Two palettes with the same names: ``normal`` (dark text on light surfaces, 7:1
or more where a citizen reads) and ``high_contrast`` (white and yellow on
black, 7:1 or more everywhere: WCAG AAA). ``[display] high_contrast`` picks
one and ``[display] large_text`` scales every text by :data:`LARGE_TEXT_SCALE`;
the app calls :func:`use` once, before it builds its screens, and the ``.kv``
files read the active palette by name::

    #:import theme kiosk.ui.theme
    color: theme.TEXT                 # never a literal colour (tests/test_access.py checks)
    font_size: app.font_unit * 5      # never app.unit: app.font_unit is app.unit × the text scale

Every text colour sits on a background that :data:`PAIRS` names; the test computes
the WCAG 2.x contrast of each pair in each palette and, in the running app,
checks that every text on every screen is one of these pairs.

    >>> from kiosk.ui import theme
    >>> theme.use(high_contrast=True)
    >>> theme.TEXT, theme.BACKGROUND
    ((1.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.0, 1.0))
    >>> theme.use()
    >>> round(contrast_ratio(theme.TEXT, theme.BACKGROUND), 1)
    15.2
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.vocabulary import LEVELS

Colour = tuple[float, float, float, float]


def rgba(hex_colour: str, alpha: float = 1.0) -> Colour:
    """``"#RRGGBB"`` as a Kivy colour."""
    value = hex_colour.lstrip("#")
    return (*(int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)), alpha)


def _per_rating(very_satisfied: str, satisfied: str, dissatisfied: str, alpha: float = 1.0) -> dict[str, Colour]:
    return {"very_satisfied": rgba(very_satisfied, alpha), "satisfied": rgba(satisfied, alpha),
            "dissatisfied": rgba(dissatisfied, alpha)}


#: The light palette. Each rating keeps its face colour on the tile's border (ACCENT), a light tint of it
#: behind the face (TINT), and a deeper tint while the tile is held down (TINT_PRESSED).
NORMAL: dict[str, object] = {
    "BACKGROUND": rgba("#F3F5F8"),
    "SURFACE": rgba("#FFFFFF"),
    "SURFACE_PRESSED": rgba("#DCE4EF"),
    "BORDER": rgba("#7A8699"),         # a button's outline: 3:1 on the background and on the button (WCAG 1.4.11)
    "TEXT": rgba("#1B1F24"),
    "TEXT_MUTED": rgba("#47505C"),
    "BRAND": rgba("#123A6B"),          # the header band: deep navy (and the thank-you's words)
    "BRAND_PRESSED": rgba("#0B2748"),
    "ON_BRAND": rgba("#FFFFFF"),
    "ON_BRAND_MUTED": rgba("#C9D6E8"),
    "WARNING": rgba("#A3261B"),        # dark red words on light surfaces (the PIN pad's "wrong PIN")
    "WARNING_BAND": rgba("#A3261B"),   # the band of the reason screen's time-out warning
    "ON_WARNING": rgba("#FFFFFF"),
    "ACCENT": _per_rating("#3E9B33", "#2A6FB8", "#B8372A"),
    "TINT": _per_rating("#EAF6E7", "#E6EFFA", "#FBE9E6"),
    "TINT_PRESSED": _per_rating("#C9E9C1", "#C3D8F2", "#F4C7BF"),
    # The sync indicator: a small dot in the bottom-right corner, pale enough that a citizen does not notice
    # it; a technician reads its colour. Not text: no contrast rule.
    "SYNC_DOT": {
        "off": rgba("#B8C3D1", 0.6),      # not provisioned: nothing to upload to
        "ok": rgba("#3E9B33", 0.45),      # the last upload or heartbeat went through
        "failing": rgba("#D99A00", 0.8),  # retrying (no network, server busy)
        "refused": rgba("#B8372A", 0.8),  # the server refused the token: re-provision
    },
}

#: The high-contrast palette: white words on black, a yellow header, bright outlines; every text pair 7:1 or
#: more. The tiles stay told apart by their outline's colour, their face and their words.
HIGH_CONTRAST: dict[str, object] = {
    "BACKGROUND": rgba("#000000"),
    "SURFACE": rgba("#000000"),
    "SURFACE_PRESSED": rgba("#3A3A3A"),
    "BORDER": rgba("#FFFFFF"),
    "TEXT": rgba("#FFFFFF"),
    "TEXT_MUTED": rgba("#E6E6E6"),
    "BRAND": rgba("#FFE14D"),          # yellow header band; yellow thank-you on black
    "BRAND_PRESSED": rgba("#D9B800"),
    "ON_BRAND": rgba("#000000"),
    "ON_BRAND_MUTED": rgba("#1F1F1F"),
    "WARNING": rgba("#FF9E94"),
    "WARNING_BAND": rgba("#FFFFFF"),   # the time-out warning: black on white, the one white band on the screen
    "ON_WARNING": rgba("#000000"),
    "ACCENT": _per_rating("#5EE65A", "#6DB8FF", "#FF7A6E"),
    "TINT": _per_rating("#000000", "#000000", "#000000"),
    "TINT_PRESSED": _per_rating("#1C4D17", "#173D66", "#66201A"),
    "SYNC_DOT": {
        "off": rgba("#8A8A8A", 0.6),
        "ok": rgba("#5EE65A", 0.45),
        "failing": rgba("#FFB000", 0.8),
        "refused": rgba("#FF7A6E", 0.8),
    },
}

PALETTES: dict[str, dict[str, object]] = {"normal": NORMAL, "high_contrast": HIGH_CONTRAST}

#: ``[display] large_text``: every font size times this. Text boxes whose height holds words grow with it (they
#: are sized in app.font_unit too); what is left of the screen goes to the tiles and reason buttons.
LARGE_TEXT_SCALE = 1.25


@dataclass(frozen=True)
class Pair:
    """A text colour on a background colour, both named in the palettes (``"TINT.satisfied"``: an entry of a
    per-rating table). ``kind`` ``text``: WCAG 1.4.3 (4.5:1; 3:1 for large text); ``outline``: the edge of a
    control against what is around it, WCAG 1.4.11 (3:1)."""

    colour: str
    background: str
    where: str
    kind: str = "text"


_RATINGS = LEVELS

#: Every text/background pair the screens draw (tests/test_access.py finds each on the screens, and fails on a
#: text whose colours are not one of these).
PAIRS: tuple[Pair, ...] = (
    Pair("TEXT", "BACKGROUND", "questions on home and the reason screen, the service screen's titles"),
    Pair("TEXT_MUTED", "BACKGROUND", "the reason screen's countdown, out of service, the thank-you's second line"),
    Pair("BRAND", "BACKGROUND", "the thank-you"),
    Pair("WARNING", "BACKGROUND", "the PIN pad's 'wrong PIN'"),
    Pair("ON_BRAND", "BRAND", "the header's site, primary buttons (skip, OK, back)"),
    Pair("ON_BRAND_MUTED", "BRAND", "the header's counter"),
    Pair("ON_BRAND", "BRAND_PRESSED", "a primary button held down"),
    Pair("TEXT", "SURFACE", "buttons, reason buttons, the PIN dots, the status text"),
    Pair("TEXT", "SURFACE_PRESSED", "a button held down"),
    Pair("ON_WARNING", "WARNING_BAND", "the reason screen's time-out warning"),
    *(Pair("TEXT", f"TINT.{r}", "a rating tile's words") for r in _RATINGS),
    *(Pair("TEXT", f"TINT_PRESSED.{r}", "a rating tile (or a reason button) held down") for r in _RATINGS),
    # Outlines of controls (non-text contrast).
    *(Pair(f"ACCENT.{r}", "BACKGROUND", "a rating tile's outline", "outline") for r in _RATINGS),
    Pair("ACCENT.dissatisfied", "SURFACE", "a reason button's outline", "outline"),
    Pair("BORDER", "BACKGROUND", "a button's outline (service screen)", "outline"),
    Pair("BORDER", "SURFACE", "a button's outline, inside edge", "outline"),
    Pair("SURFACE", "BRAND", "the language button on the header", "outline"),
)

#: WCAG 2.x AA: 4.5:1 for text, 3:1 for large text and for outlines of controls; AAA: 7:1.
AA_TEXT, AA_LARGE_TEXT, AA_OUTLINE, AAA_TEXT = 4.5, 3.0, 3.0, 7.0
#: Large text in WCAG: 18 pt (24 CSS px) or 14 pt bold (18.66 px). Measured in the window's pixels at the
#: smallest screen the terminal supports (800x480, where app.unit is 4.8 px).
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66


def is_large(font_size_px: float, bold: bool) -> bool:
    """WCAG's "large scale" text.

        >>> is_large(24, False), is_large(20, True), is_large(20, False)
        (True, True, False)
    """
    return font_size_px >= LARGE_PX or (bold and font_size_px >= LARGE_BOLD_PX)


def relative_luminance(colour) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (components 0..1; alpha ignored).

        >>> relative_luminance((1, 1, 1)), relative_luminance((0, 0, 0))
        (1.0, 0.0)
    """
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(one, other) -> float:
    """WCAG 2.x contrast ratio (L1 + 0.05) / (L2 + 0.05), from 1 to 21.

        >>> contrast_ratio(rgba("#000000"), rgba("#FFFFFF"))
        21.0
        >>> round(contrast_ratio(rgba("#777777"), rgba("#FFFFFF")), 2)  # the classic "just fails AA" grey
        4.48
    """
    high, low = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(colour, background) -> Colour:
    """``colour`` (with its alpha) drawn over an opaque ``background``."""
    alpha = colour[3] if len(colour) > 3 else 1.0
    return (*(alpha * c + (1 - alpha) * b for c, b in zip(colour[:3], background[:3])), 1.0)


def colour(palette: dict, name: str) -> Colour:
    """A palette entry by its name in :data:`PAIRS` (``"TEXT"``, ``"TINT.satisfied"``)."""
    table, _, key = name.partition(".")
    value = palette[table]
    return value[key] if key else value


def colour_names(palette: dict) -> dict[str, Colour]:
    """Every colour of ``palette`` by name, per-rating tables flattened (``"ACCENT.satisfied"``)."""
    names = {}
    for name, value in palette.items():
        if isinstance(value, dict):
            names.update({f"{name}.{key}": v for key, v in value.items()})
        else:
            names[name] = value
    return names


# -- the active variant ------------------------------------------------------------------------------------

_active: dict[str, object] = {"name": "normal", "palette": NORMAL, "text_scale": 1.0}


def use(*, high_contrast: bool = False, large_text: bool = False) -> None:
    """Make ``theme.TEXT`` … name the high-contrast or the normal palette, and ``theme.TEXT_SCALE`` the large-text
    scale or 1; the screens built afterwards take them (KioskApp.build calls this from ``[display]``)."""
    name = "high_contrast" if high_contrast else "normal"
    _active.update(name=name, palette=PALETTES[name], text_scale=LARGE_TEXT_SCALE if large_text else 1.0)


def active_palette() -> str:
    """``normal`` or ``high_contrast``."""
    return str(_active["name"])


def __getattr__(name: str):
    # theme.TEXT, theme.ACCENT[...] …: the active palette's entry (PEP 562), so every .kv rule follows `use`.
    if name == "TEXT_SCALE":
        return _active["text_scale"]
    palette = _active["palette"]
    if name in palette:
        return palette[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(NORMAL) | {"TEXT_SCALE"})
