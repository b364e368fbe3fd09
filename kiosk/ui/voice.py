"""Spoken prompts: a player on Kivy's SoundLoader, and what the screens say when.

:class:`VoicePlayer` plays prompts (see :mod:`kiosk.prompts`) one after the
other, one at a time: a new request stops what is playing. It finds each file in
the office's folder first (``[voice] folder``, a file named like the default,
e.g. ``vi/thanks.wav``, or the same name as ``.ogg``, ``.mp3``, ``.flac``), then
among the defaults in ``assets/voice/``. A file that is missing or that SDL
cannot play is logged once and skipped (an office recording that fails falls back
to the default); the terminal never stops over a sound.

:class:`ScreenVoice` decides what is said: the reason question and the
terminal's reasons when the reason screen comes up, the thank-you, the warning
before the reason screen gives up (flow event ``warning``), the dossier
invitation (flow event ``invited``); the home question and the three choices
only when the citizen asks (the home screen's "Nghe hướng dẫn" button), in the
language the screens show. Leaving a screen silences it.

Everything runs on Kivy's thread; flow events from other threads are handed over
with ``Clock.schedule_once``. A thank-you longer than ``[feedback] thanks_s`` ends
on the home screen; anything else stops when its screen goes.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from kivy.clock import Clock
from kivy.core.audio import SoundLoader
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

import assets

from ..flow import HOME, REASON, THANKS
from ..prompts import (HOME_HELP, INVITATION, PROMPTS, REASON_WARNING, THANKS as THANKS_PROMPT, file_name,
                       reason_list, script)
from .widgets import Bordered

log = logging.getLogger(__name__)

#: What an office may record its prompts as, in the order they are looked for (SDL_mixer reads them all).
OFFICE_EXTENSIONS = ("wav", "ogg", "mp3", "flac")
#: Silence between two prompts of one request (the reason question, then each reason).
GAP_S = 0.25


@dataclass(frozen=True)
class Utterance:
    """One prompt that started playing: which, in which language, from which file."""

    name: str
    language: str
    path: str


class VoicePlayer(EventDispatcher):
    """Plays prompts by name; ``speaking`` is the prompt playing now (``""``: silent).

    ``audible`` is False when ``[voice] enabled`` is false or the volume is 0:
    then nothing is ever loaded or played.

        player = VoicePlayer(config.voice)
        player.speak(["reason_question", "staff_attitude"], "vi")
    """

    speaking = StringProperty("")

    def __init__(self, settings, *, defaults: str | Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.volume = float(settings.volume)
        self.audible = bool(settings.enabled) and self.volume > 0
        self.folder = Path(settings.folder) if settings.folder else None
        self.defaults = Path(defaults) if defaults is not None else Path(assets.path("voice"))
        #: The last prompts that started, newest last (the service screen and the tests read it).
        self.spoken: deque[Utterance] = deque(maxlen=64)
        self._sounds: dict[tuple[str, str], object] = {}
        self._sources: dict[tuple[str, str], str] = {}
        self._queue: list[str] = []
        self._request: tuple[tuple[str, ...], str] | None = None
        self._language = ""
        self._current = None
        self._turn = 0
        self._played_any = False  # until one file loads, a failure is more likely no sound output than a bad file
        if self.audible and self.folder is not None and not self.folder.is_dir():
            log.warning("voice: [voice] folder %s is not a folder; the default prompts are used", self.folder)

    # -- what callers use --------------------------------------------------
    def speak(self, names, language: str) -> None:
        """Stop what is playing, then play ``names`` in turn in ``language``."""
        self.stop()
        if not self.audible:
            return
        self._request = (tuple(names), language)
        self._queue = list(names)
        self._language = language
        self._play_next(self._turn)

    def stop(self) -> None:
        """Silence now; whatever was queued is dropped."""
        self._halt()
        self.speaking = ""

    def _halt(self) -> None:
        self._turn += 1
        self._queue = []
        self._request = None
        sound, self._current = self._current, None  # cleared first: its on_stop must not start the next one
        if sound is not None:
            sound.stop()

    @property
    def request(self) -> tuple[tuple[str, ...], str] | None:
        """What is being spoken now: (prompt names, language), or None."""
        return self._request

    def preload(self, language: str, names=PROMPTS) -> list[str]:
        """Load ``names`` in ``language`` now (a screen then speaks without loading); return those that
        cannot be played."""
        if not self.audible:
            return []
        return [name for name in names if self.sound(name, language) is None]

    def source(self, name: str, language: str) -> str:
        """Where prompt ``name`` comes from: ``office``, ``default`` or ``missing`` (it cannot be played)."""
        if self.sound(name, language) is None:
            return "missing"
        return self._sources[(language, name)]

    def sound(self, name: str, language: str):
        """The loaded sound of prompt ``name`` in ``language`` (loaded once), or None if it cannot be played."""
        if not self.audible:
            return None
        key = (language, name)
        if key not in self._sounds:
            self._sounds[key] = self._find(name, language)
        return self._sounds[key]

    def unload(self) -> None:
        """Free every loaded sound (the app is stopping).

        ``speaking`` is left as it is: the screens' rules read it through Kivy's ``app`` proxy, and a rule
        run while the app stops would tie that proxy to the stopping app for good (every later app in the
        process would then read this one's properties)."""
        self._halt()
        for sound in self._sounds.values():
            if sound is not None:
                sound.unload()
        self._sounds.clear()

    # -- inside ------------------------------------------------------------
    def _find(self, name: str, language: str):
        if self.folder is not None:
            for extension in OFFICE_EXTENSIONS:
                path = self.folder / file_name(name, language, extension)
                if path.is_file():
                    sound = self._load(path)
                    if sound is not None:
                        self._sources[(language, name)] = "office"
                        return sound
                    log.warning("voice: the office recording %s cannot be played; the default is used", path)
                    break
        path = self.defaults / file_name(name, language)
        if not path.is_file():
            log.warning("voice: %s is missing; prompt %s (%s) is skipped", path, name, language)
            return None
        sound = self._load(path)
        if sound is None:
            # With no sound output at all every file fails: ScreenVoice then says so in one line.
            (log.warning if self._played_any else log.debug)(
                "voice: %s cannot be played (no sound output, or not a sound SDL reads); prompt %s (%s) is skipped",
                path, name, language)
            return None
        self._sources[(language, name)] = "default"
        return sound

    def _load(self, path: Path):
        try:
            sound = SoundLoader.load(str(path))
        except Exception:  # a provider that raises on a bad file must not stop the screens
            log.exception("voice: loading %s failed", path)
            return None
        if sound is None or not sound.length or sound.length <= 0:
            return None  # no provider for it, or SDL could not read it (Kivy's log says why)
        sound.volume = self.volume
        sound.bind(on_stop=self._on_sound_stop)
        self._played_any = True
        return sound

    def _play_next(self, turn: int) -> None:
        if turn != self._turn:
            return  # a newer request (or stop) came in during the gap
        while self._queue:
            name = self._queue.pop(0)
            sound = self.sound(name, self._language)
            if sound is None:
                continue
            self._current = sound
            self.speaking = name
            self.spoken.append(Utterance(name, self._language, sound.source))
            sound.play()
            if sound.state == "play":
                return
            self._current = None  # SDL had no channel for it (Kivy logged why): on to the next one
        self._request = None
        self.speaking = ""

    def _on_sound_stop(self, sound) -> None:
        if sound is not self._current:
            return  # stopped by stop(): nothing follows it
        self._current = None
        if self._queue:
            turn = self._turn
            Clock.schedule_once(lambda _dt: self._play_next(turn), GAP_S)
        else:
            self._request = None
            self.speaking = ""


class ScreenVoice:
    """Speaks for the screens of ``app`` (a :class:`kiosk.ui.app.KioskApp`) through ``player``."""

    def __init__(self, app, player: VoicePlayer):
        self.app = app
        self.player = player
        self._listening = False

    def start(self) -> None:
        """Follow the screens, the language and the flow; load the screens' language's prompts after the
        first frame (they play at once from then on)."""
        app = self.app
        app.root.bind(current=self._on_screen)
        app.bind(language=self._on_language)
        if not self._listening:
            app.flow.add_listener(self._on_flow_event)
            self._listening = True
        Clock.schedule_once(lambda _dt: self._preload(app.language), 0)

    def stop(self) -> None:
        self.app.root.unbind(current=self._on_screen)
        self.app.unbind(language=self._on_language)
        self.player.unload()

    def help(self) -> None:
        """The home screen's "listen" button: the question and the three choices (not while out of service:
        home then says that no rating is taken)."""
        if not self.app.out_of_service:
            self.player.speak(HOME_HELP, self.app.language)

    def needed(self) -> tuple[str, ...]:
        """The prompts this terminal can speak: the reasons it offers, if it asks for one at all."""
        flow = self.app.flow
        asked = reason_list(flow.reasons) if flow.ask_reason else ()
        return (*HOME_HELP, *asked, THANKS_PROMPT, REASON_WARNING, INVITATION)

    def _preload(self, language: str) -> None:
        if not self.player.audible:
            return
        needed = self.needed()
        failed = self.player.preload(language, needed)
        if failed and len(failed) == len(needed):
            log.warning("voice: no prompt can be played in %s (no sound output?); the screens carry on silent",
                        language)
        elif failed:
            log.warning("voice: %d of %d prompts cannot be played in %s: %s", len(failed), len(needed),
                        language, ", ".join(failed))
        else:
            log.info("voice: %d prompts ready in %s", len(needed), language)

    def _on_screen(self, _screens, screen: str) -> None:
        if self.app.servicing:
            self.player.stop()
        elif screen == REASON:
            self.player.speak(reason_list(self.app.flow.reasons), self.app.language)
        elif screen == THANKS:
            self.player.speak([THANKS_PROMPT], self.app.language)
        elif screen == HOME and self._saying(THANKS_PROMPT):
            pass  # the thank-you may be longer than the screen: let it end
        elif screen != "invitation":  # the invitation speaks on its flow event (a second one replaces it)
            self.player.stop()

    def _saying(self, *names: str) -> bool:
        request = self.player.request
        return request is not None and request[0] == names

    def _on_language(self, _app, language: str) -> None:
        if self._saying(*HOME_HELP):
            self.player.speak(HOME_HELP, language)  # the citizen switched while listening: again, in theirs
        Clock.schedule_once(lambda _dt: self._preload(language), 0)

    def _on_flow_event(self, event) -> None:
        # Any thread, under the flow's lock: hand over to Kivy's thread.
        if event.kind in ("warning", "invited"):
            Clock.schedule_once(lambda _dt: self._on_announcement(event.kind))

    def _on_announcement(self, kind: str) -> None:
        app = self.app
        if app.servicing or app.out_of_service:
            return
        if kind == "warning" and app.root.current == REASON:
            self.player.speak([REASON_WARNING], app.language)
        elif kind == "invited":
            self.player.speak([INVITATION], app.language)


class ListenButton(ButtonBehavior, Bordered, BoxLayout):
    """The home screen's "Nghe hướng dẫn" button: a drawn loudspeaker and the words (in ``voice.kv``)."""

    text = StringProperty("")
    #: False: the loudspeaker alone (home's header); ``text`` stays the button's name.
    show_text = BooleanProperty(True)
    speaking = BooleanProperty(False)


class PromptRow(ButtonBehavior, Bordered, BoxLayout):
    """A line of the service screen's voice list: the prompt's words and where its file comes from."""

    name = StringProperty("")
    words = StringProperty("")
    origin = StringProperty("")
    playing = BooleanProperty(False)


def prompt_rows(player: VoicePlayer, language: str) -> list[dict]:
    """The service screen's list: every prompt's name, words and origin in ``language``."""
    return [{"name": name, "words": script(name, language), "origin": player.source(name, language)}
            for name in PROMPTS]


