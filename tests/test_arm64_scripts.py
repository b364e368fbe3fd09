"""`make arm64`'s script, checked in seconds (the full run takes ~25 min: see the README's "Raspberry Pi build").

deploy/arm64/build.sh passes shellcheck; `make -n` shows the targets run it; its arguments are checked
with one sentence and exit 2; its plan (``--dry-run``: nothing downloaded, mounted or written) says which
cached stages of an arm64 root it would reuse and which it would run again, from the markers a real run
leaves; the Debian mirror is the host's own (deb822 or one-line sources); and tests/test_arm64_bundle.py,
which needs the arm64 root, is left out of `make test`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "deploy" / "arm64" / "build.sh"


def build(*args: str, script: Path = SCRIPT, apt_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/tmp"}
    if apt_dir is not None:
        env["HAILONG_APT_DIR"] = str(apt_dir)
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60, env=env)


def plan(done: subprocess.CompletedProcess) -> dict[str, tuple[str, str]]:
    """``{"root": ("reuse", key), ...}`` from a dry run's lines ``arm64: root: reuse (key ...)``."""
    assert done.returncode == 0, done.stderr
    return {m[1]: (m[2], m[3]) for m in re.finditer(r"^arm64: (\w+): (run|reuse) \(key (.+)\)$", done.stdout, re.M)}


def test_shellcheck():
    done = subprocess.run(["shellcheck", *sorted(map(str, SCRIPT.parent.glob("*.sh")))], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout


def test_make_targets_run_the_script():
    for target, command in (("arm64", "bash deploy/arm64/build.sh"),
                            ("arm64-clean", "bash deploy/arm64/build.sh --clean")):
        # --no-print-directory: under `make test` (MAKELEVEL set) make would add "Entering directory" lines.
        done = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=REPO, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == command


@pytest.mark.parametrize("args, sentence", [
    (["--root", "relative/dir"], "arm64: --root must be an absolute folder, not 'relative/dir'"),
    (["--root", "/"], "arm64: --root '/' would overwrite the system or the project"),
    (["--root", str(REPO)], f"arm64: --root '{REPO}' would overwrite the system or the project"),
    (["--fast"], "arm64: unknown argument '--fast' (see --help)"),
])
def test_bad_arguments_exit_2_with_one_sentence(args, sentence):
    done = build(*args, "--dry-run")
    assert (done.returncode, done.stderr.strip(), done.stdout) == (2, sentence, "")


def test_help_lists_the_stages_and_options():
    done = build("--help")
    assert done.returncode == 0
    for word in ("binfmt", "root", "packages", "pip", "project", "venv", "tests", "bundle", "run", "pack",
                 "--root DIR", "--mirror URL", "--dry-run", "--clean", "/var/tmp/hai-long-arm64"):
        assert word in done.stdout, word


def test_a_new_root_runs_every_cached_stage_and_a_finished_one_reuses_them(tmp_path):
    root = tmp_path / "arm64"
    first = plan(build("--root", str(root), "--dry-run", "--mirror", "http://mirror.example/debian"))
    assert {stage: verdict for stage, (verdict, _) in first.items()} == {
        "root": "run", "packages": "run", "venv": "run"}
    assert not root.exists()  # a dry run makes nothing
    # What a finished run leaves: one marker per stage, holding the key it was made with.
    (root / ".hai-long").mkdir(parents=True)
    for stage, (_, key) in first.items():
        (root / ".hai-long" / f"{stage}.done").write_text(key + "\n")
    again = plan(build("--root", str(root), "--dry-run", "--mirror", "http://mirror.example/debian"))
    assert {stage: verdict for stage, (verdict, _) in again.items()} == {
        "root": "reuse", "packages": "reuse", "venv": "reuse"}
    # Another mirror is another root; the packages and venv markers stay (they are inside the root that goes).
    other = plan(build("--root", str(root), "--dry-run", "--mirror", "http://other.example/debian"))
    assert other["root"][0] == "run"


def test_a_changed_pyproject_installs_the_venv_again(tmp_path):
    """The venv's key is pyproject.toml's content: a new pin, a new install (over the kept venv)."""
    repo = tmp_path / "repo"
    (repo / "deploy" / "arm64").mkdir(parents=True)
    script = repo / "deploy" / "arm64" / "build.sh"
    shutil.copy(SCRIPT, script)
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    root = tmp_path / "arm64"
    first = plan(build("--root", str(root), "--dry-run", script=script))
    (root / ".hai-long").mkdir(parents=True)
    for stage, (_, key) in first.items():
        (root / ".hai-long" / f"{stage}.done").write_text(key + "\n")
    assert plan(build("--root", str(root), "--dry-run", script=script))["venv"][0] == "reuse"
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"click==8.5.1"', '"click==8.5.2"'))
    after = plan(build("--root", str(root), "--dry-run", script=script))
    assert (after["venv"][0], after["packages"][0], after["root"][0]) == ("run", "reuse", "reuse")


@pytest.mark.parametrize("files, mirror", [
    ({"sources.list.d/debian.sources": "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n"
                                       "Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n"
                                       "Suites: bookworm-security\nComponents: main\n"},
     "http://deb.debian.org/debian"),
    ({"sources.list": "# a comment\ndeb http://ftp.vn.debian.org/debian/ bookworm main contrib\n"
                      "deb http://security.debian.org/debian-security bookworm-security main\n"},
     "http://ftp.vn.debian.org/debian"),
    ({"sources.list.d/local.sources": "Types: deb\nURIs: http://apt-cache.lan:3142/debian\nSuites: bookworm\n"},
     "http://apt-cache.lan:3142/debian"),
    ({}, "http://deb.debian.org/debian"),  # nothing found: Debian's own
])
def test_the_mirror_is_the_one_apt_uses_here(tmp_path, files, mirror):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (apt / name).write_text(text)
    done = build("--root", str(tmp_path / "arm64"), "--dry-run", apt_dir=apt)
    assert f"(Debian bookworm arm64 from {mirror})" in done.stdout.splitlines()[0]


def test_clean_dry_run_names_what_it_would_delete(tmp_path):
    done = build("--root", str(tmp_path / "arm64"), "--clean", "--dry-run")
    assert (done.returncode, done.stdout.strip()) == (0, f"arm64: would delete {tmp_path / 'arm64'}")


def test_the_arm64_bundle_tests_are_not_in_make_test():
    # The folder, as `make test` collects it (a file named on the command line is always collected); only the
    # test_a* files, for speed.
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests", "--ignore-glob=tests/test_[!a]*"],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "SDL_VIDEODRIVER": "offscreen"})
    listed = done.stdout
    assert "test_arm64_scripts.py::test_shellcheck" in listed, listed[-2000:]
    assert "test_arm64_bundle.py" not in listed
