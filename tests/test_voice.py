"""Spoken prompts, heard: the real app headless, its sounds played by Kivy's SDL2 provider and SDL_mixer into SDL's
disk audio driver, read back from its FIFO (tests/audio_tap.py) and compared with the files that should have been
played: how long the speech lasts, the shape of its loudness over time, how loud it is.
"""

from __future__ import annotations

import logging
import math
import wave
from pathlib import Path

import pytest

import assets
from audio_tap import RATE, compare, envelope, expected_seconds, heard_seconds, mono, silent, tap, voiced
from kiosk.flow import FlowEvent
from kiosk.prompts import HOME_HELP, INVITATION, PROMPTS, REASON_WARNING, THANKS, file_name
from kiosk.service_pin import hash_pin

pytestmark = pytest.mark.ui
PIN = "2468"
VOICE_DIR = Path(assets.path("voice"))
#: Loudness of the mixed output relative to the file: SDL_mixer scales by int(volume * 128) / 128.
VOLUME = 0.8


def default_file(name: str, language: str = "vi") -> Path:
    return VOICE_DIR / file_name(name, language)


def finish(kiosk, timeout: float = 20.0) -> None:
    """Run frames until the player is silent with nothing queued, then a little more: the last buffer SDL mixed
    reaches the FIFO."""
    player = kiosk.app.voice
    assert kiosk.wait_for(lambda: player.request is None and player.speaking == "", timeout=timeout)
    kiosk.advance(0.3)


def segments(recording, gap_s: float = 0.8) -> list:
    """The recording cut at silences of at least ``gap_s``: one piece per prompt. The player leaves 0.25 s of
    wall time between prompts, which the disk driver (4.6 times faster than real time) makes over a second of
    sound; the longest pause inside a prompt is about half a second (vi/thanks.wav, between its sentences)."""
    env = envelope(mono(recording), RATE)
    loud = voiced(env, fraction=0.02)
    if not loud:
        return []
    gap = round(gap_s / 0.02)
    pieces, start, last = [], loud[0], loud[0]
    for i in loud[1:]:
        if i - last > gap:
            pieces.append((start, last))
            start = i
        last = i
    pieces.append((start, last))
    frames = round(RATE * 0.02) * 2  # stereo samples per window
    margin = 5
    return [recording[max(0, (a - margin) * frames):(b + 1 + margin) * frames] for a, b in pieces]


def assert_heard(piece, name: str, language: str = "vi", *, volume: float = VOLUME) -> None:
    """``piece`` of the output is prompt ``name``: its speech lasts as long as the file's, its loudness follows
    the file's over time better than it follows any other prompt's, at the configured volume."""
    heard = envelope(mono(piece), RATE)
    match = compare(heard, default_file(name, language))
    assert abs(match.heard_s - match.expected_s) <= 0.1, (name, match)
    assert match.correlation >= 0.6, (name, match)
    # The loudest 20 ms of a one-word prompt moves a little with where SDL's resampling puts the windows.
    assert match.loudness == pytest.approx(volume, abs=0.1), (name, match)
    others = {other: compare(heard, default_file(other, language)).correlation
              for other in PROMPTS if other != name
              and abs(expected_seconds(default_file(other, language)) - match.expected_s) <= 0.3}
    assert all(c < match.correlation for c in others.values()), (name, match.correlation, others)


def tone(path: Path, *, hz: float = 440.0, seconds: float = 0.6, rate: int = 22050) -> Path:
    """A WAV of a plain tone: an office's "recording" that no prompt could be mistaken for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(int(20000 * math.sin(2 * math.pi * hz * i / rate)).to_bytes(2, "little", signed=True)
                                 for i in range(int(seconds * rate))))
    return path


def pitch(piece) -> float:
    """The main frequency of ``piece`` from its zero crossings (a tone's, not speech's)."""
    left = piece[0::2]
    loud = voiced(envelope(left, RATE), fraction=0.5)  # inside the tone: no rounding noise about zero
    size = round(RATE * 0.02)
    left = left[loud[0] * size:(loud[-1] + 1) * size]
    rising = [i for i, (a, b) in enumerate(zip(left, left[1:])) if a < 0 <= b]
    return (len(rising) - 1) * RATE / (rising[-1] - rising[0])


def unlock_service(kiosk) -> None:
    kiosk.app.service_hold_s = 0.3
    kiosk.touch_at(5, kiosk.app.root.height - 5, hold=0.6)
    keys = {w.text: w for w in kiosk.widget("service", "keypad").children}
    for digit in PIN:
        kiosk.touch(keys[digit])
    kiosk.touch(kiosk.widget("service", "ok"))
    assert kiosk.app.root.get_screen("service").unlocked


def spoken(kiosk) -> list[tuple[str, str]]:
    return [(u.name, u.language) for u in kiosk.app.voice.spoken]


# -- each screen ----------------------------------------------------------------------------------------------

def test_the_listen_button_speaks_the_question_and_the_three_choices(start_kiosk):
    kiosk = start_kiosk()
    assert kiosk.widget("home", "listen").opacity == 1
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "listen"))
        finish(kiosk)
    assert spoken(kiosk) == [(name, "vi") for name in HOME_HELP]
    pieces = segments(heard.samples)
    assert len(pieces) == len(HOME_HELP)
    for piece, name in zip(pieces, HOME_HELP):
        assert_heard(piece, name)
    assert kiosk.screen == "home" and kiosk.rows() == []  # asking to listen is not a rating


def test_the_thank_you_is_spoken(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 6})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "very_satisfied"))
        assert kiosk.screen == "thanks"
        finish(kiosk)
    assert spoken(kiosk) == [(THANKS, "vi")]
    [piece] = segments(heard.samples)
    assert_heard(piece, THANKS)


def test_the_thank_you_is_the_same_for_every_level(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 0.5, "repeat_interval_s": 0})
    for rating in ("very_satisfied", "satisfied"):
        assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
        kiosk.touch(kiosk.widget("home", rating))
        finish(kiosk)
    paths = {u.path for u in kiosk.app.voice.spoken}
    assert [u.name for u in kiosk.app.voice.spoken] == [THANKS, THANKS] and len(paths) == 1


def test_the_reason_screen_speaks_its_question_and_the_terminals_reasons(start_kiosk):
    reasons = ["staff_attitude", "facilities"]
    kiosk = start_kiosk(feedback={"reasons": reasons, "reason_timeout_s": 30})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "dissatisfied"))
        assert kiosk.screen == "reason"
        finish(kiosk)
    expected = ["reason_question", *reasons]
    assert spoken(kiosk) == [(name, "vi") for name in expected]
    pieces = segments(heard.samples)
    assert len(pieces) == len(expected)
    for piece, name in zip(pieces, expected):
        assert_heard(piece, name)


def test_english_follows_the_language_switch(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 6})
    kiosk.touch(kiosk.widget("home", "language"))
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "listen"))
        finish(kiosk)
    assert spoken(kiosk) == [(name, "en") for name in HOME_HELP]
    pieces = segments(heard.samples)
    assert len(pieces) == len(HOME_HELP)
    assert_heard(pieces[0], "question", "en")
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "satisfied"))
        finish(kiosk)
    assert spoken(kiosk)[-1] == (THANKS, "en")
    assert_heard(segments(heard.samples)[0], THANKS, "en")


def test_switching_language_while_listening_starts_again_in_the_new_one(start_kiosk):
    kiosk = start_kiosk()
    kiosk.touch(kiosk.widget("home", "listen"))
    assert kiosk.app.voice.speaking == "question"
    kiosk.touch(kiosk.widget("home", "language"))
    finish(kiosk)
    assert spoken(kiosk) == [("question", "vi")] + [(name, "en") for name in HOME_HELP]


def test_a_new_prompt_stops_the_one_playing(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 6})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "listen"))
        assert kiosk.app.voice.speaking == "question"
        kiosk.touch(kiosk.widget("home", "satisfied"))  # at once: the question is cut short
        finish(kiosk)
    assert spoken(kiosk) == [("question", "vi"), (THANKS, "vi")]
    question, thanks = expected_seconds(default_file("question")), expected_seconds(default_file(THANKS))
    assert thanks - 0.1 <= heard_seconds(heard.samples) < thanks + question - 1.0  # a moment of the question


def test_the_reason_list_stops_when_the_citizen_answers(start_kiosk):
    kiosk = start_kiosk(feedback={"thanks_s": 6})
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    kiosk.advance(kiosk.app.reason_guard_s + 0.05)
    assert kiosk.app.voice.speaking == "reason_question"
    kiosk.touch(kiosk.widget("reason", "skip"))
    finish(kiosk)
    assert spoken(kiosk) == [("reason_question", "vi"), (THANKS, "vi")]


def test_the_warning_before_the_reason_screen_gives_up_is_spoken(start_kiosk):
    # The flow's tick() emits `warning` once when reason_warning_s (5 s by default) is left.
    kiosk = start_kiosk(feedback={"reasons": ["facilities"], "reason_timeout_s": 7})
    kiosk.touch(kiosk.widget("home", "dissatisfied"))
    finish(kiosk)  # the question and the one reason, about a second
    assert spoken(kiosk) == [("reason_question", "vi"), ("facilities", "vi")]
    with tap().recording() as heard:
        assert kiosk.wait_for(lambda: kiosk.app.voice.speaking == REASON_WARNING, timeout=5)
        assert kiosk.screen == "reason"
        finish(kiosk)
    assert spoken(kiosk)[-1] == (REASON_WARNING, "vi")
    [piece] = segments(heard.samples)
    assert_heard(piece, REASON_WARNING)


def test_a_warning_outside_the_reason_screen_says_nothing(start_kiosk):
    kiosk = start_kiosk()
    kiosk.app.flow._emit(FlowEvent("warning", "reason"))  # a late event: the screen is home again
    kiosk.frames(5)
    assert spoken(kiosk) == []


def test_the_dossier_invitation_is_spoken(start_kiosk):
    from kivy.uix.screenmanager import Screen

    kiosk = start_kiosk(dossier={"enabled": True}, feedback={"thanks_s": 6})
    if "invitation" not in kiosk.app.root.screen_names:  # the counter-screens branch brings the real one
        kiosk.app.root.add_widget(Screen(name="invitation"))
    with tap().recording() as heard:
        assert kiosk.app.flow.invite("H40.12-261202-0001").kind == "invited"
        assert kiosk.wait_for(lambda: kiosk.screen == "invitation")
        finish(kiosk)
    assert spoken(kiosk) == [(INVITATION, "vi")]
    [piece] = segments(heard.samples)
    assert_heard(piece, INVITATION)
    kiosk.app.flow.press("satisfied", source="button")
    finish(kiosk)
    assert spoken(kiosk)[-1] == (THANKS, "vi")  # the rating that answers it is thanked like any other


def test_the_service_screen_plays_each_prompt(start_kiosk):
    kiosk = start_kiosk(service={"pin_hash": hash_pin(PIN, rounds=1000)})
    unlock_service(kiosk)
    kiosk.touch(kiosk.widget("service", "voice_test"))
    service = kiosk.app.root.get_screen("service")
    rows = {row.name: row for row in kiosk.widget("service", "voice_rows").children}
    assert set(rows) == set(PROMPTS)
    assert {row.origin for row in rows.values()} == {"default"}
    for name in ("question", "satisfied"):  # rows in view (the list scrolls)
        with tap().recording() as heard:
            kiosk.touch(service.prompt_row(name))
            finish(kiosk)
        [piece] = segments(heard.samples)
        assert_heard(piece, name)
    kiosk.touch(kiosk.widget("service", "voice_language"))
    assert kiosk.app.language == "en"
    with tap().recording() as heard:
        kiosk.touch(service.prompt_row("question"))
        finish(kiosk)
    assert_heard(segments(heard.samples)[0], "question", "en")
    kiosk.touch(kiosk.widget("service", "voice_done"))
    assert service.ids.panels.current == "status"
    assert spoken(kiosk) == [("question", "vi"), ("satisfied", "vi"), ("question", "en")]


def test_service_screen_is_silent_and_speaks_nothing_to_citizens(start_kiosk):
    # A technician's presses on the physical buttons during service are not ratings: no thank-you is spoken.
    kiosk = start_kiosk(service={"pin_hash": hash_pin(PIN, rounds=1000)})
    unlock_service(kiosk)
    with tap().recording() as heard:
        kiosk.key("2")
        kiosk.advance(0.5)
    assert silent(heard.samples) and spoken(kiosk) == []


# -- an office's recordings ------------------------------------------------------------------------------------

def test_an_office_recording_replaces_the_default_of_the_same_name(start_kiosk, tmp_path):
    office = tmp_path / "office-voice"
    recording = tone(office / "vi" / "thanks.wav")
    kiosk = start_kiosk(feedback={"thanks_s": 6}, voice={"folder": str(office)})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "satisfied"))
        finish(kiosk)
    assert [u.path for u in kiosk.app.voice.spoken] == [str(recording)]
    [piece] = segments(heard.samples)
    match = compare(envelope(mono(piece), RATE), recording)
    assert abs(match.heard_s - match.expected_s) <= 0.1 and match.loudness == pytest.approx(VOLUME, abs=0.06)
    assert pitch(piece) == pytest.approx(440, rel=0.03)  # the tone, not espeak-ng's voice
    # The other prompts keep their defaults; the service screen tells which is which.
    assert kiosk.app.voice.source(THANKS, "vi") == "office"
    assert kiosk.app.voice.source("question", "vi") == "default"


def test_an_office_recording_may_be_ogg(start_kiosk, tmp_path):
    # SDL_mixer in Kivy's wheel reads Ogg Vorbis too; an office's recordings are often not WAV.
    office = tmp_path / "office-voice"
    ogg = Path(__file__).parent / "data" / "tone-440.ogg"
    (office / "vi").mkdir(parents=True)
    (office / "vi" / "question.ogg").write_bytes(ogg.read_bytes())
    kiosk = start_kiosk(voice={"folder": str(office)})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "listen"))
        finish(kiosk)
    assert kiosk.app.voice.spoken[0].path == str(office / "vi" / "question.ogg")
    pieces = segments(heard.samples)
    assert len(pieces) == len(HOME_HELP)
    assert pitch(pieces[0]) == pytest.approx(440, rel=0.03)
    assert_heard(pieces[1], "very_satisfied")


def test_a_bad_office_file_is_logged_and_the_default_plays(start_kiosk, tmp_path, caplog):
    office = tmp_path / "office-voice"
    (office / "vi").mkdir(parents=True)
    (office / "vi" / "thanks.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot a sound at all")
    caplog.set_level(logging.WARNING)
    kiosk = start_kiosk(feedback={"thanks_s": 6}, voice={"folder": str(office)})
    with tap().recording() as heard:
        kiosk.touch(kiosk.widget("home", "satisfied"))
        finish(kiosk)
    assert "office recording" in caplog.text and "thanks.wav cannot be played" in caplog.text
    assert [u.path for u in kiosk.app.voice.spoken] == [str(default_file(THANKS))]
    assert_heard(segments(heard.samples)[0], THANKS)


def test_a_missing_or_bad_default_is_logged_and_skipped(start_kiosk, tmp_path, caplog):
    from kiosk.config import VoiceSettings
    from kiosk.ui.voice import VoicePlayer

    kiosk = start_kiosk()
    defaults = tmp_path / "voice"
    (defaults / "vi").mkdir(parents=True)
    (defaults / "vi" / "question.wav").write_bytes(b"garbage")
    (defaults / "vi" / "satisfied.wav").write_bytes(default_file("satisfied").read_bytes())
    player = VoicePlayer(VoiceSettings(enabled=True, volume=VOLUME, folder=""), defaults=defaults)
    caplog.set_level(logging.WARNING)
    with tap().recording() as heard:
        player.speak(["satisfied", "question", "very_satisfied"], "vi")  # good, bad, missing
        assert kiosk.wait_for(lambda: player.request is None, timeout=10)
        kiosk.advance(0.3)
    assert [(u.name, u.language) for u in player.spoken] == [("satisfied", "vi")]
    assert "question.wav cannot be played" in caplog.text and "very_satisfied.wav is missing" in caplog.text
    [piece] = segments(heard.samples)
    assert_heard(piece, "satisfied")
    player.unload()


# -- silence when asked ---------------------------------------------------------------------------------------

@pytest.fixture
def audio_output():
    """SDL's output is open (it opens with the first sound loaded in the process) and running."""
    from kivy.core.audio import SoundLoader

    sound = SoundLoader.load(str(default_file("satisfied")))
    assert sound is not None and sound.length > 0, "SDL's audio output did not open"
    sound.unload()


@pytest.mark.parametrize("voice", [{"volume": 0}, {"enabled": False}], ids=["volume 0", "disabled"])
def test_volume_0_or_disabled_plays_nothing(start_kiosk, audio_output, voice):
    kiosk = start_kiosk(feedback={"thanks_s": 0.5, "reason_timeout_s": 1, "repeat_interval_s": 0}, voice=voice)
    assert kiosk.widget("home", "listen").opacity == 0 and kiosk.widget("home", "listen").disabled
    with tap().recording() as heard:
        kiosk.app.listen()  # even if something asked
        kiosk.touch(kiosk.widget("home", "satisfied"))
        assert kiosk.wait_for(lambda: kiosk.screen == "home", timeout=3)
        kiosk.advance(1.0)
        kiosk.touch(kiosk.widget("home", "dissatisfied"))
        assert kiosk.screen == "reason"
        kiosk.advance(0.5)
    assert spoken(kiosk) == [] and kiosk.app.voice._sounds == {}  # nothing even loaded
    assert len(heard.samples) > RATE  # the output ran all along (over a second of it), silent
    assert silent(heard.samples)


def test_a_terminal_without_sound_output_says_so_once_and_carries_on(tmp_path):
    # `kiosk run` in its own process (SDL opens its audio once per process) with ALSA pointed at a device that
    # does not exist: one warning, a home screen, a clean stop.
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "kiosk.db"}"\n[display]\nkiosk = false\n', encoding="utf-8")
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy"), "SDL_AUDIODRIVER": "alsa",
           "AUDIODEV": "no-such-device"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config), "--mock-pins"],
                            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            lines.append(line)
            seen = "".join(lines)
            if ("voice:" in seen and "first frame drawn" in seen) or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-3000:]
    assert "first frame drawn" in log
    voice_lines = [line for line in log.splitlines() if "voice:" in line]
    assert len(voice_lines) == 1 and "no prompt can be played in vi" in voice_lines[0], voice_lines
    assert "Traceback" not in log
