"""Hearing what the terminal plays, in tests: SDL's disk audio driver writes the mixed output into a FIFO.

:func:`install` (called by ``conftest.py`` before Kivy is imported) makes a FIFO
in a temporary folder and points SDL at it (``SDL_AUDIODRIVER=disk``,
``SDL_DISKAUDIOFILE``), so every sound the app plays in this process goes through
Kivy's SDL2 provider, SDL_mixer and SDL's audio thread exactly as on a terminal,
and comes out as raw PCM (signed 16-bit, stereo, 44.1 kHz: how Kivy opens the
mixer). A thread reads the FIFO for the whole session: a plain file would grow
by 176 KB a second of the session. The FIFO is opened read-write, so neither
side ever blocks on opening it, and a child ``kiosk run`` that inherits the
environment writes into it too, harmlessly.

SDL's disk driver paces itself like a sound card; ``SDL_DISKAUDIODELAY`` (ms per
buffer; Kivy's buffer is 4096 frames, 93 ms of sound) is set shorter so the
tests hear a prompt in a fraction of its length. What is heard is the same.

Analysis (pure Python): :func:`envelope` (RMS per 20 ms), :func:`voiced` (the
windows above a fraction of the loudest), :func:`compare` (a recording against
the file that should have been played: the length of the speech, the shape of
its envelope, the loudness ratio).
"""

from __future__ import annotations

import array
import atexit
import functools
import math
import os
import shutil
import tempfile
import threading
import wave
from contextlib import contextmanager
from dataclasses import dataclass

RATE = 44100
CHANNELS = 2
FRAME_BYTES = 4
WINDOW_S = 0.02
#: ms per buffer instead of its length (4096 frames, 93 ms): about 4.6 times faster than real time.
DISK_DELAY_MS = 20


class AudioTap:
    """Reads the FIFO forever; :meth:`recording` keeps what is played inside a ``with`` block."""

    def __init__(self, path: str):
        self.path = path
        self.total = 0  # bytes read since SDL opened its output
        self._lock = threading.Lock()
        self._recording: bytearray | None = None
        self._skip = 0
        self._fd: int | None = None
        self._thread = threading.Thread(target=self._read, name="audio-tap", daemon=True)

    def start(self) -> None:
        os.mkfifo(self.path)
        self._thread.start()

    def close(self) -> None:
        """At exit: no reader is left, so SDL's audio thread gets an error instead of blocking on a full FIFO
        (the reading thread stops with the interpreter; a blocked audio thread could hold the exit up)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _read(self) -> None:
        self._fd = fd = os.open(self.path, os.O_RDWR)
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:  # closed at exit
                return
            with self._lock:
                self.total += len(data)
                if self._recording is not None:
                    skip = min(self._skip, len(data))
                    self._skip -= skip
                    self._recording += data[skip:]

    @contextmanager
    def recording(self):
        """``with tap.recording() as heard:`` … then ``heard.samples`` (interleaved stereo) after the block."""
        heard = Recording()
        with self._lock:
            self._recording = bytearray()
            self._skip = (-self.total) % FRAME_BYTES  # start on a frame boundary
        try:
            yield heard
        finally:
            with self._lock:
                data, self._recording = self._recording, None
            whole = len(data) - len(data) % FRAME_BYTES
            heard.samples = array.array("h", bytes(data[:whole]))


@dataclass
class Recording:
    samples: array.array | None = None

    @property
    def seconds(self) -> float:
        return len(self.samples) / CHANNELS / RATE


_TAP: AudioTap | None = None


def install() -> AudioTap:
    """Point SDL's audio at a fresh FIFO and start reading it (once per process)."""
    global _TAP
    if _TAP is None:
        folder = tempfile.mkdtemp(prefix="hai-long-audio-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _TAP = AudioTap(os.path.join(folder, "output.pcm"))
        _TAP.start()
        atexit.register(_TAP.close)
        os.environ["SDL_AUDIODRIVER"] = "disk"
        os.environ["SDL_DISKAUDIOFILE"] = _TAP.path
        os.environ["SDL_DISKAUDIODELAY"] = str(DISK_DELAY_MS)
        os.environ["KIVY_AUDIO"] = "sdl2"
    return _TAP


def tap() -> AudioTap:
    assert _TAP is not None, "audio_tap.install() was not called (tests/conftest.py calls it)"
    return _TAP


# -- analysis -----------------------------------------------------------------------

def mono(stereo: array.array) -> list[float]:
    return [(stereo[i] + stereo[i + 1]) / 2 for i in range(0, len(stereo) - 1, 2)]


def wav_mono(path) -> tuple[int, list[float]]:
    """A 16-bit WAV file's samples, mixed to mono, and its rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: expected 16-bit samples"
        data = array.array("h", w.readframes(w.getnframes()))
        channels = w.getnchannels()
        rate = w.getframerate()
    if channels == 1:
        return rate, list(data)
    return rate, [sum(data[i:i + channels]) / channels for i in range(0, len(data), channels)]


def envelope(samples, rate: int, window_s: float = WINDOW_S) -> list[float]:
    """Root mean square of each ``window_s`` of ``samples``."""
    size = max(1, round(rate * window_s))
    return [math.sqrt(sum(s * s for s in samples[i:i + size]) / len(samples[i:i + size]))
            for i in range(0, len(samples) - size + 1, size)]


def voiced(env: list[float], fraction: float = 0.05) -> list[int]:
    """Indices of the windows louder than ``fraction`` of the loudest (none for silence)."""
    loudest = max(env, default=0.0)
    if loudest < 1.0:  # digital silence (rounding noise at most)
        return []
    return [i for i, value in enumerate(env) if value > fraction * loudest]


def silent(samples: array.array) -> bool:
    return max((abs(s) for s in samples), default=0) == 0


@dataclass(frozen=True)
class Match:
    expected_s: float      # speech in the file, first to last voiced window
    heard_s: float         # speech in the recording, the same way
    correlation: float     # of the two envelopes over the speech, aligned at its start
    loudness: float        # loudest window heard / loudest window in the file


@functools.lru_cache(maxsize=None)
def file_envelope(path: str) -> tuple[float, ...]:
    rate, samples = wav_mono(path)
    return tuple(envelope(samples, rate))


def compare(heard: list[float], expected_path) -> Match:
    """How a recording compares with the sound file ``expected_path``; ``heard`` is the recording's
    :func:`envelope` (``envelope(mono(samples), RATE)``: interleaved stereo at 44.1 kHz)."""
    want = list(file_envelope(str(expected_path)))
    got = heard
    want_voiced, got_voiced = voiced(want), voiced(got)
    assert want_voiced, f"{expected_path} is silent"
    if not got_voiced:
        return Match(len(want_voiced) * WINDOW_S, 0.0, 0.0, 0.0)
    want_span = want[want_voiced[0]:want_voiced[-1] + 1]
    got_span = got[got_voiced[0]:got_voiced[-1] + 1]
    n = min(len(want_span), len(got_span))
    return Match(len(want_span) * WINDOW_S, len(got_span) * WINDOW_S,
                 _correlation(want_span[:n], got_span[:n]), max(got) / max(want))


def _correlation(a: list[float], b: list[float]) -> float:
    n = len(a)
    if n < 2:
        return 0.0
    mean_a, mean_b = sum(a) / n, sum(b) / n
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / math.sqrt(var_a * var_b) if var_a and var_b else 0.0


def heard_seconds(recording: array.array) -> float:
    """How long something was audible in ``recording`` (sum of voiced 20 ms windows)."""
    return len(voiced(envelope(mono(recording), RATE), fraction=0.02)) * WINDOW_S


def expected_seconds(path) -> float:
    return len(voiced(list(file_envelope(str(path))), fraction=0.02)) * WINDOW_S
