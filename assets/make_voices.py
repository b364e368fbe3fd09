"""Make the terminal's default spoken prompts with espeak-ng: ``make voices``.

Writes ``assets/voice/<language>/<prompt>.wav`` for every prompt of
:mod:`kiosk.prompts` in Vietnamese (espeak-ng voice ``vi``) and English
(``en``), and ``assets/voice/manifest.json`` (the words, the voice, the
espeak-ng version and a SHA-256 of each file).

The files are committed, like the faces: building the terminal (``make
bundle``, on a Pi too) needs no speech synthesiser, and every bundle ships the
same sounds. ``tests/test_voice_files.py`` checks that the committed files say
what the screens say now (the manifest) and, where espeak-ng is installed (CI
installs it), that this script makes exactly the committed files. After
changing a text on the screens: ``make voices`` and commit the result.

Format: WAV, 16-bit mono at espeak-ng's 22,050 Hz. SDL_mixer (inside Kivy's
wheel and the bundle) reads WAV with no codec at all; it decodes every sound
into memory when loading it, so OGG would only save disk space (about 400 KB
against 3 MB for the whole set), not memory, and would need an encoder here.
Silence at both ends is trimmed and each file is normalised to the same peak,
so prompts and an office's recordings follow the one ``[voice] volume``.

    .venv/bin/python assets/make_voices.py             # write assets/voice/
    .venv/bin/python assets/make_voices.py --check     # exit 1 if the committed files differ
"""

from __future__ import annotations

import argparse
import array
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

if __package__ in (None, ""):  # run as a script: find the kiosk package beside assets/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.prompts import PROMPTS, file_name, script  # noqa: E402

VOICE_DIR = Path(__file__).resolve().parent / "voice"
MANIFEST = "manifest.json"
#: espeak-ng's voice for each language of the terminal.
VOICES = {"vi": "vi", "en": "en"}
#: Words per minute: a little slower than espeak-ng's 175, for elderly listeners.
SPEED = 150
#: Peak after normalising: -1 dBFS, so no prompt clips and all sound equally loud.
PEAK = round(32767 * 0.89)
#: Silence kept before and after the speech, in seconds.
MARGIN_S = 0.04


def espeak_version(espeak: str = "espeak-ng") -> str:
    """The installed espeak-ng's version, e.g. ``"1.51"``."""
    out = subprocess.run([espeak, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"text-to-speech:\s*(\S+)", out)
    return found.group(1) if found else out.strip()


def synthesise(text: str, voice: str, *, espeak: str = "espeak-ng") -> tuple[int, array.array]:
    """``text`` spoken by espeak-ng's ``voice``: (sample rate, 16-bit mono samples)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "said.wav"
        subprocess.run([espeak, "-v", voice, "-s", str(SPEED), "-w", str(target), text], check=True,
                       capture_output=True)
        with wave.open(str(target), "rb") as said:
            if said.getsampwidth() != 2 or said.getnchannels() != 1:
                raise RuntimeError(f"espeak-ng wrote {said.getnchannels()} channel(s) of "
                                   f"{8 * said.getsampwidth()} bits; expected 16-bit mono")
            samples = array.array("h", said.readframes(said.getnframes()))
            return said.getframerate(), samples


def tidy(samples: array.array, rate: int) -> array.array:
    """Trim silence at both ends (keeping :data:`MARGIN_S`) and scale to :data:`PEAK`.

        >>> tidy(array.array("h", [0] * 5000 + [100, -200, 50] + [0] * 5000), 1000).tolist()[38:43]
        [0, 0, 14582, -29163, 7291]
    """
    loudest = max((abs(s) for s in samples), default=0)
    if loudest == 0:
        raise ValueError("the synthesiser made silence")
    threshold = loudest // 100
    voiced = [i for i, s in enumerate(samples) if abs(s) > threshold]
    margin = int(MARGIN_S * rate)
    start, end = max(0, voiced[0] - margin), min(len(samples), voiced[-1] + 1 + margin)
    scale = PEAK / loudest
    return array.array("h", (round(s * scale) for s in samples[start:end]))


def write_wav(path: Path, rate: int, samples: array.array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def make_voices(out_dir: Path = VOICE_DIR, *, espeak: str = "espeak-ng") -> dict:
    """Write every prompt in every language under ``out_dir`` and the manifest; return the manifest."""
    files = {}
    for language, voice in VOICES.items():
        for name in PROMPTS:
            words = script(name, language)
            rate, samples = synthesise(words, voice, espeak=espeak)
            samples = tidy(samples, rate)
            target = out_dir / file_name(name, language)
            write_wav(target, rate, samples)
            files[file_name(name, language)] = {
                "prompt": name,
                "language": language,
                "words": words,
                "seconds": round(len(samples) / rate, 3),
                "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            }
    manifest = {
        "made_by": "assets/make_voices.py",
        "synthesiser": f"espeak-ng {espeak_version(espeak)}",
        "voices": VOICES,
        "words_per_minute": SPEED,
        "files": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def differences(made: Path, committed: Path) -> list[str]:
    """Files (relative names) that differ between two voice folders, or exist in only one."""
    names = {p.relative_to(made).as_posix() for p in made.rglob("*") if p.is_file()}
    names |= {p.relative_to(committed).as_posix() for p in committed.rglob("*") if p.is_file()}
    return sorted(n for n in names if not (made / n).is_file() or not (committed / n).is_file()
                  or (made / n).read_bytes() != (committed / n).read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=VOICE_DIR, help="the folder to write (default: assets/voice)")
    parser.add_argument("--check", action="store_true",
                        help="make the files in a temporary folder and compare them with --out; exit 1 if they differ")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("make_voices: espeak-ng is not installed (Debian: apt install espeak-ng)", file=sys.stderr)
        return 2
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            make_voices(Path(tmp))
            changed = differences(Path(tmp), args.out)
        for name in changed:
            print(f"make_voices: {args.out / name} is not what make_voices.py makes now")
        if changed:
            print("make_voices: run `make voices` and commit assets/voice/", file=sys.stderr)
        return 1 if changed else 0
    manifest = make_voices(args.out)
    total = sum((args.out / name).stat().st_size for name in manifest["files"])
    seconds = sum(f["seconds"] for f in manifest["files"].values())
    print(f"make_voices: {len(manifest['files'])} files, {seconds:.1f} s of speech, {total / 1e6:.2f} MB "
          f"in {args.out} ({manifest['synthesiser']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
