"""The default voice files in assets/voice/: one per prompt and language, saying what the screens say now, exactly
what assets/make_voices.py makes (checked with espeak-ng where it is installed; CI installs it)."""

from __future__ import annotations

import array
import hashlib
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from assets import make_voices
from kiosk.prompts import HOME_HELP, PROMPTS, file_name, reason_list, script
from kiosk.ratings import LANGUAGES, RATINGS, REASONS
from kiosk.texts import screen_texts

ROOT = Path(__file__).resolve().parent.parent
VOICE = ROOT / "assets" / "voice"
MANIFEST = json.loads((VOICE / "manifest.json").read_text(encoding="utf-8"))
FILES = [file_name(name, language) for language in LANGUAGES for name in PROMPTS]
STALE = "assets/voice/ is older than the screens' texts: run `make voices` and commit assets/voice/"


def test_the_manifest_lists_every_prompt_in_every_language_and_nothing_else():
    assert sorted(MANIFEST["files"]) == sorted(FILES)
    on_disk = sorted(p.relative_to(VOICE).as_posix() for p in VOICE.rglob("*") if p.is_file())
    assert on_disk == sorted(FILES + ["manifest.json"])


@pytest.mark.parametrize("relative", FILES)
def test_each_file_says_what_the_screens_say_now(relative):
    entry = MANIFEST["files"][relative]
    assert entry["words"] == script(entry["prompt"], entry["language"]), STALE
    assert file_name(entry["prompt"], entry["language"]) == relative


@pytest.mark.parametrize("relative", FILES)
def test_each_file_is_the_one_in_the_manifest_and_a_plain_wav(relative):
    path = VOICE / relative
    entry = MANIFEST["files"][relative]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{relative} changed by hand? {STALE}"
    with wave.open(str(path), "rb") as sound:
        assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (1, 2, 22050)
        samples = array.array("h", sound.readframes(sound.getnframes()))
    assert len(samples) / 22050 == pytest.approx(entry["seconds"], abs=0.001)
    assert max(abs(s) for s in samples) == make_voices.PEAK  # normalised: every prompt equally loud
    assert 0.3 < entry["seconds"] < 8  # speech, trimmed, not a stray silence or a runaway synthesis


def test_the_screens_words_are_what_is_spoken():
    for language in LANGUAGES:
        texts = screen_texts(language)
        assert script("question", language) == texts["question"]
        assert script("reason_question", language) == texts["reason_question"]
        assert [script(code, language) for code in RATINGS + REASONS] == [texts[c] for c in RATINGS + REASONS]
        assert texts["thanks"] in script("thanks", language)
        assert texts["skip"] in script("reason_warning", language)
    assert HOME_HELP == ("question", *RATINGS)
    assert reason_list(("facilities",)) == ("reason_question", "facilities")


def test_make_voices_makes_exactly_the_committed_files(tmp_path):
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is missing: .ci/run installs it")
        pytest.skip("espeak-ng is not installed (Debian: apt install espeak-ng)")
    version = make_voices.espeak_version()
    if f"espeak-ng {version}" != MANIFEST["synthesiser"]:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI has espeak-ng {version}, the files were made with {MANIFEST['synthesiser']}: "
                        "run `make voices` with CI's version and commit assets/voice/")
        pytest.skip(f"espeak-ng {version} is not the version that made the files ({MANIFEST['synthesiser']})")
    make_voices.make_voices(tmp_path)
    assert make_voices.differences(tmp_path, VOICE) == [], STALE


def test_make_voices_check_command(tmp_path):
    # `--check` against a folder that differs: exit 1 naming the file; without espeak-ng: exit 2 saying so.
    if shutil.which("espeak-ng") is None:
        done = subprocess.run([sys.executable, str(ROOT / "assets" / "make_voices.py"), "--check"],
                              capture_output=True, text=True, env={**os.environ, "PATH": str(tmp_path)})
        assert done.returncode == 2 and "espeak-ng is not installed" in done.stderr
        return
    shutil.copytree(VOICE, tmp_path / "voice")
    (tmp_path / "voice" / "vi" / "thanks.wav").write_bytes(b"changed")
    done = subprocess.run([sys.executable, str(ROOT / "assets" / "make_voices.py"), "--check", "--out",
                           str(tmp_path / "voice")], capture_output=True, text=True)
    assert done.returncode == 1 and "vi/thanks.wav is not what make_voices.py makes now" in done.stdout
    assert "run `make voices`" in done.stderr


def test_the_prompts_module_stays_free_of_kivy():
    # kiosk.prompts is the terminal's core (assets/make_voices.py imports it at build time): no Kivy.
    done = subprocess.run([sys.executable, "-c", "import sys, kiosk.prompts, assets.make_voices; "
                           "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kivy'))"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
