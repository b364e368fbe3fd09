"""A sound output for benches on a machine without a sound card: SDL's disk audio driver into a drained FIFO.

SDL 2.28 refuses ``SDL_DISKAUDIOFILE=/dev/null`` ("not a regular file or pipe"), and a plain file would grow
by 176 KB a second of the run, so a thread of the bench's own process reads the FIFO and throws the sound away.
The terminal under test opens its audio output and plays its prompts as it would on a Pi.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def drained_fifo(path: Path) -> Path:
    """Make a FIFO at ``path`` and read it in a daemon thread for the life of this process."""
    os.mkfifo(path)
    descriptor = os.open(path, os.O_RDWR)  # read-write: neither side blocks on opening it

    def drain():
        while os.read(descriptor, 65536):
            pass

    threading.Thread(target=drain, name="audio-drain", daemon=True).start()
    return path


def disk_audio_env(env: dict, folder: Path) -> dict:
    """``env`` with SDL's disk audio into a drained FIFO in ``folder``, unless it names an audio driver."""
    if "SDL_AUDIODRIVER" not in env:
        env = {**env, "SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": str(drained_fifo(folder / "audio.pcm"))}
    return env
