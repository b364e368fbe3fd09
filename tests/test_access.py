"""Usable by everyone: colour contrast (WCAG 2.x, computed), high contrast and large text, the reason screen's
time-out warning. The screens run headless for real (see ``KioskDriver`` in conftest).

Contrast is checked three ways, so that a new colour cannot slip past:

- every pair of :data:`kiosk.ui.theme.PAIRS` in both palettes meets AA (AAA for text in high contrast);
- the ``.kv`` files take every colour from the theme (no literal colour) and every font size from
  ``app.font_unit`` (so large text reaches every screen);
- the running app, in each palette, shows every screen (and the states that change colours: held down, the
  warning, out of service, a wrong PIN, the button test); every visible text's colour and the background under it
  must be one of the declared pairs, with the ratio its size needs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.errors import ConfigError
from kiosk.texts import TEXTS
from kiosk.ui import theme
from kiosk.ui.theme import (AA_LARGE_TEXT, AA_OUTLINE, AA_TEXT, AAA_TEXT, PAIRS, PALETTES, colour, colour_names,
                            contrast_ratio, is_large, over)

ui = pytest.mark.ui
REPO = Path(__file__).resolve().parent.parent
KV_FILES = sorted((REPO / "kiosk" / "ui").glob("*.kv"))
OUTPUT = REPO / "tests" / "output"
COLOUR_KEYS = ("color", "rgba", "fill_color", "border_color", "background_color", "disabled_color",
               "outline_color", "disabled_outline_color", "clearcolor")


# -- the formula and the declared pairs (no window) ---------------------------------------------------------

@pytest.mark.parametrize(("one", "other", "expected"), [
    ("#000000", "#FFFFFF", 21.0),
    ("#FFFFFF", "#FFFFFF", 1.0),
    ("#777777", "#FFFFFF", 4.48),   # the grey that just fails AA
    ("#767676", "#FFFFFF", 4.54),   # the lightest grey that passes on white
    ("#FF0000", "#FFFFFF", 4.0),
    ("#0000FF", "#FFFFFF", 8.59),
])
def test_contrast_ratio_is_wcags(one, other, expected):
    # Values from the WCAG 2.x definition: relative luminance with the sRGB curve, (L1 + 0.05) / (L2 + 0.05).
    ratio = contrast_ratio(theme.rgba(one), theme.rgba(other))
    assert round(ratio, 2) == expected
    assert contrast_ratio(theme.rgba(other), theme.rgba(one)) == ratio


PAIR_CASES = [(name, pair) for name in PALETTES for pair in PAIRS]


@pytest.mark.parametrize(("palette", "pair"), PAIR_CASES,
                         ids=[f"{name}:{pair.colour}/{pair.background}" for name, pair in PAIR_CASES])
def test_every_declared_pair_meets_aa_in_every_palette(palette, pair):
    ratio = contrast_ratio(colour(PALETTES[palette], pair.colour), colour(PALETTES[palette], pair.background))
    # Declared pairs must hold for normal-size text: any of them may carry a small label.
    need = {"text": AA_TEXT, "outline": AA_OUTLINE}[pair.kind]
    if palette == "high_contrast" and pair.kind == "text":
        need = AAA_TEXT
    assert ratio >= need, f"{pair.colour} on {pair.background} ({pair.where}): {ratio:.2f}:1 < {need}:1 in {palette}"


def test_both_palettes_name_the_same_colours():
    names = {name: set(colour_names(palette)) for name, palette in PALETTES.items()}
    assert names["normal"] == names["high_contrast"]
    for pair in PAIRS:
        assert {pair.colour, pair.background} <= names["normal"]


def test_the_active_palette_follows_use():
    try:
        theme.use(high_contrast=True, large_text=True)
        assert theme.TEXT == PALETTES["high_contrast"]["TEXT"] and theme.TEXT_SCALE == theme.LARGE_TEXT_SCALE
        assert theme.active_palette() == "high_contrast"
        theme.use()
        assert theme.TEXT == PALETTES["normal"]["TEXT"] and theme.TEXT_SCALE == 1.0
        with pytest.raises(AttributeError):
            theme.NO_SUCH_COLOUR  # noqa: B018
    finally:
        theme.use()


# -- the .kv files: colours from the theme, font sizes from app.font_unit ---------------------------------------

def kv_settings(path: Path, key: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(rf"^\s*{key}:\s*(.+?)\s*$", line)
        if match:
            found.append((number, match[1]))
    return found


def test_the_walk_over_kv_files_finds_them():
    assert {"home.kv", "reason.kv", "thanks.kv", "service.kv", "widgets.kv"} <= {p.name for p in KV_FILES}
    assert len(kv_settings(REPO / "kiosk" / "ui" / "home.kv", "color")) >= 2


@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: p.name)
def test_kv_colours_come_from_the_theme(path):
    names = set(PALETTES["normal"])
    for key in COLOUR_KEYS:
        for number, expression in kv_settings(path, key):
            bare = re.sub(r"\(?\s*0\s*,\s*0\s*,\s*0\s*,\s*0\s*\)?", "", expression)  # transparent is fine
            # A colour is theme.NAME (or another widget property that holds one), never digits or a hex string.
            assert not re.search(r"\d|#|hex", bare), (
                f"{path.name}:{number}: `{key}: {expression}` — take colours from kiosk/ui/theme.py "
                "(theme.TEXT …), add a new one to both palettes and to theme.PAIRS")
            for name in re.findall(r"theme\.(\w+)", expression):
                assert name in names, f"{path.name}:{number}: theme.{name} is in no palette"


@pytest.mark.parametrize("path", KV_FILES, ids=lambda p: p.name)
def test_kv_font_sizes_follow_the_text_scale(path):
    for number, expression in kv_settings(path, "font_size"):
        assert "app.font_unit" in expression, (
            f"{path.name}:{number}: `font_size: {expression}` — use app.font_unit (app.unit × the large-text scale)")


# -- config ------------------------------------------------------------------------------------------------------

def test_config_defaults_and_bad_values():
    config = parse_config({})
    assert (config.display.high_contrast, config.display.large_text) == (False, False)
    assert config.feedback.reason_warning_s == 5.0
    assert parse_config({"feedback": {"reason_warning_s": 0}}).feedback.reason_warning_s == 0.0
    for data, key in [({"display": {"high_contrast": "yes"}}, "[display] high_contrast"),
                      ({"display": {"large_text": 1}}, "[display] large_text"),
                      ({"feedback": {"reason_warning_s": -1}}, "[feedback] reason_warning_s"),
                      ({"feedback": {"reason_warning_s": "5"}}, "[feedback] reason_warning_s")]:
        with pytest.raises(ConfigError, match=re.escape(key)):
            parse_config(data)


# -- the running app: every text on every screen ---------------------------------------------------------------

def shown(widget, top) -> bool:
    node = widget
    while node is not None:
        if node.opacity <= 0 or node.width <= 0 or node.height <= 0:
            return False
        if node is top:
            return True
        node = node.parent
    return True


def fill_under(widget, top, window_colour):
    """The opaque colour under ``widget``: the window's, then each ancestor's (and its own) fill drawn in
    canvas.before (a Color followed by a filled shape), outermost first."""
    from kivy.graphics import Color, Ellipse, Rectangle, RoundedRectangle, SmoothRoundedRectangle

    fills = []
    node = widget
    while node is not None:
        current = None
        for instruction in node.canvas.before.children:
            if isinstance(instruction, Color):
                current = tuple(instruction.rgba)
            elif isinstance(instruction, (Rectangle, RoundedRectangle, SmoothRoundedRectangle, Ellipse)) \
                    and current is not None and current[3] > 0:
                fills.append(current)
                current = None
        if node is top:
            break
        node = node.parent
    background = tuple(window_colour)
    for fill in reversed(fills):
        background = over(fill, background)
    return background


def text_widgets(top):
    from kivy.uix.label import Label

    return [w for w in top.walk(restrict=True) if isinstance(w, Label) and w.text.strip() and shown(w, top)]


def names_of(value, palette) -> set[str]:
    key = tuple(round(c, 3) for c in value[:4])
    return {name for name, c in colour_names(palette).items() if tuple(round(x, 3) for x in c[:4]) == key}


class ContrastWalk:
    """Every visible text seen on the screens, with its colours, size and ratio."""

    def __init__(self, kiosk, palette: str):
        self.kiosk = kiosk
        self.palette = PALETTES[palette]
        self.strict = palette == "high_contrast"
        self.rows: list[dict] = []
        self.pairs_seen: set[tuple[str, str]] = set()

    def look(self, where: str, top=None) -> None:
        from kivy.core.window import Window

        self.kiosk.frames(2)
        top = top if top is not None else self.kiosk.app.root.current_screen
        found = text_widgets(top)
        assert found, f"no text found on {where}"
        for widget in found:
            fg = tuple(widget.disabled_color if widget.disabled else widget.color)
            bg = fill_under(widget, top, Window.clearcolor)
            if fg[3] < 1:
                fg = over(fg, bg)
            ratio = contrast_ratio(fg, bg)
            large = is_large(widget.font_size, widget.bold)
            label = f"{where}: {widget.text[:40]!r} ({type(widget).__name__}, {widget.font_size:.1f} px" \
                    f"{' bold' if widget.bold else ''})"
            declared = {(p.colour, p.background) for p in PAIRS if p.kind == "text"}
            matches = {(f, b) for f in names_of(fg, self.palette) for b in names_of(bg, self.palette)} & declared
            assert matches, f"{label}: colour {fg} on {bg} is not a pair of theme.PAIRS"
            need = AAA_TEXT if self.strict else (AA_LARGE_TEXT if large else AA_TEXT)
            assert ratio >= need, f"{label}: {ratio:.2f}:1 < {need}:1"
            self.pairs_seen |= matches
            self.rows.append({"where": where, "text": widget.text.splitlines()[0][:40], "px": widget.font_size,
                              "bold": widget.bold, "large": large, "ratio": ratio,
                              "pair": " / ".join(sorted(matches)[0])})

    def every_screen(self) -> None:
        """Each screen of the app as it stands (the new ones too), and each panel of a screen that has panels."""
        from kivy.uix.screenmanager import ScreenManager

        root = self.kiosk.app.root
        for name in root.screen_names:
            root.current = name
            self.kiosk.frames(2)
            screen = root.current_screen
            self.look(name)
            for panels in [w for w in screen.walk(restrict=True) if isinstance(w, ScreenManager)]:
                first = panels.current
                for panel in panels.screen_names:
                    panels.current = panel
                    self.look(f"{name}/{panel}")
                panels.current = first
        root.current = "home"

    def held_down(self, where: str, buttons) -> None:
        for button in buttons:
            button.state = "down"
        try:
            self.look(f"{where} (held down)")
        finally:
            for button in buttons:
                button.state = "normal"

    def write(self, name: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"contrast-{name}.txt"
        lines = [f"{'ratio':>6}  {'px':>5}  {'size':5}  where: text (pair)"]
        for row in sorted(self.rows, key=lambda r: r["ratio"]):
            lines.append(f"{row['ratio']:6.2f}  {row['px']:5.1f}  {'large' if row['large'] else 'small':5}  "
                         f"{row['where']}: {row['text']!r} ({row['pair']}{', bold' if row['bold'] else ''})")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def tap_home(kiosk, rating: str) -> None:
    kiosk.touch(kiosk.widget("home", rating))


def to_reason_screen(kiosk) -> None:
    tap_home(kiosk, "dissatisfied")
    assert kiosk.screen == "reason"
    kiosk.advance(kiosk.app.reason_guard_s + 0.05)


@ui
@pytest.mark.parametrize("palette", list(PALETTES))
def test_every_text_on_every_screen_meets_aa(start_kiosk, palette):
    from kiosk.service_pin import hash_pin

    kiosk = start_kiosk(display={"high_contrast": palette == "high_contrast"},
                        feedback={"reason_timeout_s": 4, "reason_warning_s": 2.5},
                        service={"pin_hash": hash_pin("2468")})
    assert theme.active_palette() == palette
    walk = ContrastWalk(kiosk, palette)
    app = kiosk.app

    walk.every_screen()
    home = app.root.get_screen("home")
    walk.held_down("home", [home.ids[r] for r in ("very_satisfied", "satisfied", "dissatisfied", "language")])

    to_reason_screen(kiosk)
    walk.look("reason")
    reason = app.root.get_screen("reason")
    walk.held_down("reason", [*reason.ids.reasons.children, reason.ids.skip])
    assert kiosk.wait_for(lambda: app.reason_warning, timeout=4)
    walk.look("reason (time-out warning)")
    kiosk.touch(reason.ids.skip)
    assert kiosk.screen == "thanks"
    walk.look("thanks")
    kiosk.terminal.flow.reset()
    assert kiosk.wait_for(lambda: kiosk.screen == "home")

    # Out of service (the database refuses writes): home says so in words.
    kiosk.terminal.store.refusing = "test: the disk is full"
    app._follow_storage()
    try:
        assert app.out_of_service
        walk.look("home (out of service)")
    finally:
        kiosk.terminal.store.refusing = None
        app._follow_storage()

    # The service screen: a wrong PIN's message, the status, the button test with a lit lamp.
    app.flow.begin_service()
    app.root.current = "service"
    service = app.root.get_screen("service")
    service.entered = "1111"
    service.submit()
    walk.look("service (wrong PIN)")
    service.unlocked = True
    service.refresh()
    walk.look("service (status)")
    service.open_button_test()
    app.button_test.press("satisfied", source="touch")
    walk.look("service (button test)")
    walk.held_down("service (button test)", [service.ids.test_done])
    app.close_service()

    declared = {(p.colour, p.background) for p in PAIRS if p.kind == "text"}
    if palette == "normal":
        # In the light palette every declared text pair has its own colours: each must have been seen on a screen
        # (a pair nobody draws is a stale declaration; a state the walk missed is a gap in this test).
        assert declared - walk.pairs_seen == set()
    assert len(walk.rows) >= 40
    walk.write(palette)


# -- high contrast and large text from the config ----------------------------------------------------------------

@ui
@pytest.mark.parametrize(("high_contrast", "large_text"), [(False, False), (True, False), (False, True), (True, True)])
def test_display_options_reach_every_screen(start_kiosk, high_contrast, large_text):
    kiosk = start_kiosk(display={"high_contrast": high_contrast, "large_text": large_text})
    from kivy.core.window import Window

    palette = PALETTES["high_contrast" if high_contrast else "normal"]
    scale = theme.LARGE_TEXT_SCALE if large_text else 1.0
    app = kiosk.app
    assert tuple(Window.clearcolor) == pytest.approx(palette["BACKGROUND"])
    question = kiosk.widget("home", "question")
    assert tuple(question.color) == pytest.approx(palette["TEXT"])
    assert question.font_size == pytest.approx(app.unit * 6.6 * scale)
    assert app.font_unit == pytest.approx(app.unit * scale)
    tile = kiosk.widget("home", "satisfied")
    assert tuple(tile.border_color) == pytest.approx(palette["ACCENT"]["satisfied"])
    thanks = kiosk.widget("thanks", "thanks")
    assert tuple(thanks.color) == pytest.approx(palette["BRAND"]) and thanks.font_size == pytest.approx(
        app.unit * 12 * scale)
    # Large text still fits: each tile's words inside the tile with the face above them at least as tall, the tiles
    # at least 40 % of the screen, every reason button's words inside the button.
    kiosk.frames(2)
    for rating in ("very_satisfied", "satisfied", "dissatisfied"):
        tile = kiosk.widget("home", rating)
        image, label = [w for w in tile.children[::-1]]
        assert label.text == app.texts[rating]
        assert tile.y <= label.y and label.top <= tile.top and label.texture_size[1] <= label.height + 1
        assert image.height >= label.height
    assert kiosk.widget("home", "tiles").height >= 0.4 * app.root.height
    to_reason_screen(kiosk)
    kiosk.frames(2)
    for button in app.root.get_screen("reason").ids.reasons.children:
        assert button.texture_size[1] <= button.height, f"{button.text!r} does not fit its button"
        assert button.texture_size[0] <= button.width


# -- the reason screen's time-out warning -------------------------------------------------------------------------

def warning_pattern(language: str) -> re.Pattern:
    return re.compile(re.escape(TEXTS[language]["reason_warning"]).replace(re.escape("{seconds}"), r"(\d+)"))


@ui
@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_reason_screen_warns_before_it_gives_up(start_kiosk, language):
    kiosk = start_kiosk(feedback={"reason_timeout_s": 3.5, "reason_warning_s": 2})
    app = kiosk.app
    if language != app.language:
        kiosk.touch(kiosk.widget("home", "language"))
    to_reason_screen(kiosk)
    warning, question = kiosk.widget("reason", "warning"), kiosk.widget("reason", "question")
    flow = kiosk.terminal.flow
    assert flow.seconds_left > 2
    assert (app.reason_warning, warning.opacity, question.opacity) == (False, 0, 1)
    seen, events = [], []
    app.bind(warning_text=lambda _app, text: seen.append((flow.seconds_left, text)))
    flow.add_listener(lambda event: events.append(event.kind))
    assert kiosk.wait_for(lambda: app.reason_warning, timeout=3)
    left = flow.seconds_left
    assert 1.0 < left <= 2.0  # at reason_warning_s before the end (the app ticks ten times a second)
    kiosk.frames(2)
    assert (warning.opacity, question.opacity) == (1, 0)
    assert warning.font_size >= question.font_size  # big: at least the question's size, bold, on its own band
    assert warning.bold
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=4)
    # It counted down in whole seconds, each shown while that many (rounded up) were left, then went away.
    pattern = warning_pattern(language)
    shown_seconds = [int(pattern.fullmatch(text)[1]) for _left, text in seen if text]
    assert shown_seconds[0] == 2 and shown_seconds[-1] == 1 and shown_seconds == sorted(shown_seconds, reverse=True)
    for left_then, text in seen:
        if text:
            assert int(pattern.fullmatch(text)[1]) == max(1, math.ceil(left_then))
    assert (app.reason_warning, app.warning_text, warning.opacity) == (False, "", 0)
    assert kiosk.rows()[-1]["reason_outcome"] == "timeout"
    # The flow warned once too (the voice speaks on that event), and the band showed from the same tick.
    assert events.count("warning") == 1


@ui
def test_an_answer_during_the_warning_is_taken_and_the_warning_goes(start_kiosk):
    kiosk = start_kiosk(feedback={"reason_timeout_s": 3, "reason_warning_s": 2.5})
    app = kiosk.app
    to_reason_screen(kiosk)
    assert kiosk.wait_for(lambda: app.reason_warning, timeout=3)
    kiosk.touch(kiosk.app.root.get_screen("reason").ids.reasons.children[-1])  # the first reason
    assert kiosk.screen == "thanks"
    assert app.reason_warning is False and kiosk.widget("reason", "warning").opacity == 0
    row = kiosk.rows()[-1]
    assert (row["reason_outcome"], row["reason"]) == ("given", app.flow.reasons[0])


@ui
def test_no_warning_when_reason_warning_s_is_0(start_kiosk):
    kiosk = start_kiosk(feedback={"reason_timeout_s": 1.5, "reason_warning_s": 0})
    app = kiosk.app
    seen = []
    app.bind(reason_warning=lambda _app, value: seen.append(value))
    to_reason_screen(kiosk)
    assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
    assert seen == [] and kiosk.widget("reason", "warning").opacity == 0
    assert kiosk.rows()[-1]["reason_outcome"] == "timeout"


# -- pictures: high contrast and large text --------------------------------------------------------------------

@ui
@pytest.mark.parametrize("variant", ["", "contrast", "large", "contrast-large"])
def test_screenshots_in_high_contrast_and_large_text(start_kiosk, variant):
    from test_ui import assert_not_blank

    kiosk = start_kiosk(display={"high_contrast": "contrast" in variant, "large_text": "large" in variant},
                        feedback={"reason_timeout_s": 9, "reason_warning_s": 5})
    name = (lambda screen: f"{screen}-{variant}-800x480") if variant else (lambda screen: f"{screen}-800x480")
    shots = []
    if variant:
        shots.append(kiosk.screenshot(name("home")))
    to_reason_screen(kiosk)
    if variant:
        assert not kiosk.app.reason_warning
        shots.append(kiosk.screenshot(name("reason")))
    assert kiosk.wait_for(lambda: kiosk.app.reason_warning, timeout=6)
    shots.append(kiosk.screenshot(name("reason-warning")))
    kiosk.touch(kiosk.widget("reason", "skip"))
    assert kiosk.screen == "thanks"
    if variant:
        shots.append(kiosk.screenshot(name("thanks")))
    for shot in shots:
        assert_not_blank(shot)


# -- the wiring guide's Braille labels ------------------------------------------------------------------------------

#: Vietnamese Braille (Sao Mai Center for the Blind's rules, liblouis vi-vn-g0): the letters these labels use, and
#: the tones, each written as its own cell before its vowel.
BRAILLE_LETTERS = {"a": "1", "â": "16", "g": "1245", "h": "125", "i": "24", "k": "13", "l": "123", "n": "1345",
                   "o": "135", "ô": "1456", "r": "1235", "t": "2345"}
BRAILLE_TONES = {"\u0301": "35", "\u0300": "56", "\u0309": "26", "\u0303": "36", "\u0323": "6"}


def braille_dots(words: str) -> list[str]:
    """The dot numbers of each cell of ``words`` ("" for a space)."""
    import unicodedata

    cells = []
    for char in words.lower():
        if char == " ":
            cells.append("")
            continue
        base, *marks = unicodedata.normalize("NFD", char)
        tones = [m for m in marks if m in BRAILLE_TONES]
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in BRAILLE_TONES))
        cells += [BRAILLE_TONES[t] for t in tones] + [BRAILLE_LETTERS[letter]]
    return cells


def braille_glyph(dots: str) -> str:
    return chr(0x2800 + sum(1 << (int(d) - 1) for d in dots))


def test_braille_labels_in_the_wiring_guide_spell_the_three_levels():
    from kiosk.ratings import RATING_LABELS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([^|(]+?) \(`\[pins\] (\w+)`\) \|[^|]+\|[^|]+\| ([\u2800-\u28ff]+) \| ([^|]+) \|$", readme,
                      re.M)
    assert {pin for _w, pin, _g, _d in rows} == {"very_satisfied", "satisfied", "dissatisfied"}
    for words, pin, glyphs, dots in rows:
        assert words == RATING_LABELS["vi"][pin]
        expected = braille_dots(words)
        assert glyphs == "".join(braille_glyph(d) for d in expected), f"{words}: the cells"
        written = [cell.split()[-1] for word in dots.split(" · ") for cell in word.split(", ")]
        assert written == [d for d in expected if d], f"{words}: the dot numbers"
