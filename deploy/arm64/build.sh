#!/usr/bin/env bash
# The Raspberry Pi (arm64) build, made and proven on an x86-64 machine under qemu-user emulation.
#
#     make arm64          (= bash deploy/arm64/build.sh)
#     make arm64-clean    (= bash deploy/arm64/build.sh --clean)
#
# Stages, each timed ("arm64: <stage> took N s"), the slow ones cached in the root folder
# (default /var/tmp/hai-long-arm64, or --root DIR / $HAILONG_ARM64_ROOT) and reused when present:
#   binfmt    binfmt_misc mounted and qemu-aarch64 registered, so the root's programs run
#   root      Debian bookworm arm64 made by one-stage debootstrap from the host's own Debian mirror   (cached)
#   packages  the GL/EGL/SDL/Python packages Kivy needs, as deploy/pi-setup.sh installs on a Pi     (cached)
#   pip       the host's pip configuration (config files, PIP_* environment, local indexes, CA certificates)
#   project   the project's files copied into <root>/src/hai-long (always fresh)
#   venv      /opt/hai-long-venv with `pip install '.[pi]'` + pytest and pyinstaller (cached per pyproject.toml)
#   tests     the terminal's tests that make sense under emulation (ARM64_TESTS below)
#   bundle    `make bundle` inside the root, copied out to dist/aarch64/kiosk (what a release ships)
#   run       the aarch64 bundle run headless (SDL offscreen, Mesa llvmpipe) until it stores a press:
#             tests/test_bundle.py and tests/test_arm64_bundle.py inside the root
#   pack      the bundle packed as a release archive, dist/aarch64/hai-long-kiosk-<version>-aarch64.tar.gz
#             (kiosk-release pack; sign it with kiosk-release sign on the release maker's offline computer)
#
# Options: --root DIR, --mirror URL (default: the host's apt mirror), --dry-run (print the plan: which
# stages are reused, which run; touches nothing), --clean (unmount and delete the root), -h/--help.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ROOT="${HAILONG_ARM64_ROOT:-/var/tmp/hai-long-arm64}"
MIRROR=""
DRY_RUN=0
CLEAN=0
SUITE=bookworm
SRC=/src/hai-long          # the project, inside the root
VENV=/opt/hai-long-venv    # its virtual environment, inside the root

# What Kivy's aarch64 wheel needs beside itself (it carries SDL2, not GL/EGL): the same runtime list as
# tests/test_bundle.py's RUNTIME_PACKAGES, then Python, make and binutils (PyInstaller strips with `strip`).
PACKAGES=(
    libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libgles2 libgbm1 libdrm2 libmtdev1 libasound2
    libx11-6 libxrender1 libudev1
    python3 python3-venv python3-dev ca-certificates make binutils procps
    openssl  # tests/test_sync_tls.py makes a private CA with it
)

# Under emulation (HAILONG_TEST_SLOWDOWN below): the flow, the store, the hardware layer (pins, keyboard,
# self-test, board detection with gpiozero's real lgpio factory), the config and the startup checks, the
# terminal's clock, officers and dossiers, and sync: uploads to the real server on loopback (its SQLite
# storage; the PostgreSQL runs are x86 CI's: the server does not run on a Pi), HTTP failures and TLS.
# Then the doctests of hardware/ and sync/.
ARM64_TESTS=(
    tests/test_flow.py tests/test_store.py tests/test_hardware.py tests/test_board.py tests/test_selftest.py
    tests/test_config.py tests/test_checks.py tests/test_timekeeping.py tests/test_officers_flow.py
    tests/test_dossier_flow.py tests/test_sync.py tests/test_sync_http.py tests/test_sync_tls.py
    --doctest-modules hardware sync
)
# The UI tests that the PIN check makes slow under emulation (13-16 s per check): the service screen's.
# The other UI suites take minutes each there; the bundle's headless run draws the real screens.
ARM64_UI_TESTS=(tests/test_ui.py -k "service or pin")
# How many times slower than native the tests run here: the bound of their event waits (tests/conftest.py).
SLOWDOWN=10

usage() {  # the comment at the top of this file
    awk 'NR == 1 {next} /^#/ {sub(/^# ?/, ""); print; next} {exit}' "$0"
}

while (($#)); do
    case "$1" in
        --root) ROOT="${2:?--root needs a folder}"; shift 2 ;;
        --root=*) ROOT="${1#--root=}"; shift ;;
        --mirror) MIRROR="${2:?--mirror needs a URL}"; shift 2 ;;
        --mirror=*) MIRROR="${1#--mirror=}"; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --clean) CLEAN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "arm64: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

case "$ROOT" in
    /*) ;;
    *) echo "arm64: --root must be an absolute folder, not '$ROOT'" >&2; exit 2 ;;
esac
if [[ "$ROOT" == "/" || "$ROOT" == "$REPO" ]]; then
    echo "arm64: --root '$ROOT' would overwrite the system or the project" >&2
    exit 2
fi
STATE="$ROOT/.hai-long"    # the cache markers

# The Debian mirror apt already uses on this machine (deb822 .sources or one-line sources.list), read under
# $HAILONG_APT_DIR (default /etc/apt; tests/test_arm64_scripts.py gives it fake ones).
host_mirror() {
    local file uri apt="${HAILONG_APT_DIR:-/etc/apt}"
    for file in "$apt"/sources.list.d/*.sources; do
        [[ -f "$file" ]] || continue
        uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$file")
        if [[ -n "$uri" ]]; then echo "${uri%/}"; return; fi
    done
    for file in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
        [[ -f "$file" ]] || continue
        uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|file):\/\/.*\/debian\/?$/) {print $i; exit}}' "$file")
        if [[ -n "$uri" ]]; then echo "${uri%/}"; return; fi
    done
    echo "http://deb.debian.org/debian"
}
[[ -n "$MIRROR" ]] || MIRROR="$(host_mirror)"

packages_key() { printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16; }
VENV_EXTRAS="pi,server"  # the server only for the sync tests' real server on loopback (not bundled)
venv_key() { { cat "$REPO/pyproject.toml"; echo "$VENV_EXTRAS"; } | sha256sum | cut -c1-16; }

# "reuse" when a stage's marker is there and says the same key, else "run".
cached() {  # cached MARKER [KEY]
    local marker="$STATE/$1.done" key="${2:-}"
    if [[ -f "$marker" && "$(cat "$marker")" == "$key" ]]; then echo reuse; else echo run; fi
}

# Every folder a pip setting or PIP_* variable names as a local path (file:// index, find-links,
# constraint files' folders): bound read-only at the same place inside the root.
pip_local_paths() {
    local values
    values="$( (python3 -m pip config list 2>/dev/null || true) | sed -E "s/^[^=]+=//; s/^'//; s/'$//")"
    values+=$'\n'"$(env | sed -nE 's/^PIP_[A-Z_]+=//p')"
    tr ' ' '\n' <<<"$values" | sed -E 's#^file://##' | while read -r value; do
        [[ "$value" == /* ]] || continue
        value="${value%/}"
        [[ -f "$value" ]] && value="$(dirname "$value")"
        # A PEP 503 index (<dir>/simple) links to its files beside it (<dir>/files): the whole <dir>.
        [[ "$value" == */simple ]] && value="$(dirname "$value")"
        [[ -d "$value" && "$value" != /etc* && "$value" != / ]] && echo "$value"
    done | sort -u
}

plan() {
    echo "arm64: root $ROOT (Debian $SUITE arm64 from $MIRROR)"
    echo "arm64: root: $(cached root "$SUITE $MIRROR") (key $SUITE $MIRROR)"
    echo "arm64: packages: $(cached packages "$(packages_key)") (key $(packages_key))"
    echo "arm64: venv: $(cached venv "$(venv_key)") (key $(venv_key))"
    echo "arm64: tests: ${ARM64_TESTS[*]}; UI: ${ARM64_UI_TESTS[*]}"
    echo "arm64: output: $REPO/dist/aarch64/kiosk"
}

MOUNTS=()
unmount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
}

bind() {  # bind SOURCE [ro]
    local target="$ROOT$1"
    mkdir -p "$target"
    mount --bind "$1" "$target"
    if [[ "${2:-}" == ro ]]; then mount -o remount,bind,ro "$target"; fi
    MOUNTS+=("$target")
}

mount_root() {
    local path
    mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
    mount -t proc proc "$ROOT/proc"; MOUNTS+=("$ROOT/proc")
    mount -t sysfs sysfs "$ROOT/sys"; MOUNTS+=("$ROOT/sys")
    bind /dev
    if mount -t devpts devpts "$ROOT/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null; then
        MOUNTS+=("$ROOT/dev/pts")
    fi
    while read -r path; do
        [[ -n "$path" ]] && bind "$path" ro
    done < <(pip_local_paths)
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

in_root() {  # in_root COMMAND...: run inside the root with the host's PIP_* environment
    local env_args=(HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8
                    DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1)
    while IFS= read -r line; do env_args+=("$line"); done < <(env | grep -E '^PIP_' || true)
    chroot "$ROOT" /usr/bin/env -i "${env_args[@]}" "$@"
}

TIMES=()
stage() {  # stage NAME FUNCTION
    local started=$SECONDS
    echo "arm64: == $1"
    "$2"
    TIMES+=("$1 $((SECONDS - started)) s")
    echo "arm64: $1 took $((SECONDS - started)) s"
}

do_binfmt() {
    if [[ ! -f /proc/sys/fs/binfmt_misc/status ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [[ ! -f /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        if command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64 2>/dev/null \
            && [[ -f /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
            :
        else
            # The F flag opens the interpreter now, so the root needs no copy of qemu.
            grep -h '^:qemu-aarch64:' /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
        fi
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64
    echo "arm64: qemu-aarch64 registered ($(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64))"
}

do_root() {
    if [[ "$(cached root "$SUITE $MIRROR")" == reuse ]]; then
        echo "arm64: reusing $ROOT"
        return
    fi
    [[ -d "$ROOT" ]] && clean_root
    mkdir -p "$ROOT"
    # One stage: with binfmt the second stage runs in the root at once (no --foreign).
    debootstrap --arch=arm64 --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 || {
        tail -n 30 "$ROOT.debootstrap.log" >&2
        [[ -f "$ROOT/debootstrap/debootstrap.log" ]] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
        echo "arm64: debootstrap failed (log: $ROOT.debootstrap.log)" >&2
        exit 1
    }
    mkdir -p "$STATE"
    echo "$SUITE $MIRROR" >"$STATE/root.done"
}

do_packages() {
    if [[ "$(cached packages "$(packages_key)")" == reuse ]]; then
        echo "arm64: packages already installed"
        return
    fi
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" \
        >"$ROOT/etc/apt/sources.list"
    in_root apt-get update -qq
    in_root apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$STATE/apt.log" 2>&1 || {
        tail -n 30 "$STATE/apt.log" >&2
        exit 1
    }
    in_root apt-get clean
    packages_key >"$STATE/packages.done"
}

do_pip() {
    local file
    # Config files where pip reads them (global, site-wide XDG, the user's).
    for file in /etc/pip.conf /etc/xdg/pip /root/.config/pip /root/.pip "${PIP_CONFIG_FILE:-}"; do
        [[ -n "$file" && -e "$file" ]] || continue
        mkdir -p "$ROOT$(dirname "$file")"
        cp -a "$file" "$ROOT$(dirname "$file")/"
    done
    # Trusted CA certificates: the host's own additions, then the root's bundle made again with them;
    # the host's whole bundle too, for settings that name its path (cert = /etc/ssl/certs/...).
    # (update-ca-certificates takes ~30 s under emulation: only when the host's additions changed.)
    local certs_key
    certs_key="$(cat /usr/local/share/ca-certificates/* 2>/dev/null | sha256sum | cut -c1-16)"
    if [[ -d /usr/local/share/ca-certificates && "$(cached certs "$certs_key")" == run ]]; then
        mkdir -p "$ROOT/usr/local/share/ca-certificates"
        cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
        in_root update-ca-certificates >/dev/null 2>&1 || true
        echo "$certs_key" >"$STATE/certs.done"
    fi
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
        cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
    fi
    echo "arm64: local package folders bound read-only into the root: $(pip_local_paths | tr '\n' ' ')"
}

do_project() {
    rm -rf --one-file-system "$ROOT$SRC"
    mkdir -p "$ROOT$SRC"
    # Tracked and new (not ignored) files: what `git status` calls the project (less the deleted); mtimes kept.
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
        | python3 -c 'import os, sys; [sys.stdout.buffer.write(p + b"\0") for p in sys.stdin.buffer.read().split(b"\0") if p and os.path.lexists(p)]' \
        | tar --null -T - -cf -) | tar -xpf - -C "$ROOT$SRC"
    echo "arm64: $(find "$ROOT$SRC" -type f | wc -l) files in $SRC"
}

dev_pins() {  # the dev extra's pins for the tools the root needs
    python3 - "$REPO/pyproject.toml" <<'EOF'
import sys, tomllib
dev = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["dev"]
print(" ".join(p for p in dev if p.split("==")[0] in ("pytest", "pyinstaller", "hypothesis")))
EOF
}

do_venv() {
    if [[ "$(cached venv "$(venv_key)")" == reuse ]]; then
        echo "arm64: reusing $VENV"
        return
    fi
    # Kept when there: pip installs over it only what pyproject.toml changed.
    [[ -x "$ROOT$VENV/bin/pip" ]] || in_root python3 -m venv "$VENV"
    echo "arm64: pip config in the root:"
    in_root "$VENV/bin/pip" config list | sed 's/^/arm64:   /'
    # The server too, only for the sync tests' real server on loopback: kiosk.spec leaves it out of the bundle.
    in_root sh -c "cd $SRC && $VENV/bin/pip install --quiet '.[$VENV_EXTRAS]' $(dev_pins)"
    in_root "$VENV/bin/pip" list --format=freeze 2>/dev/null | grep -iE '^(kivy|lgpio|gpiozero|pydantic.core|pyinstaller)=' \
        | sed 's/^/arm64:   /'
    venv_key >"$STATE/venv.done"
}

in_project() {  # in_project COMMAND: a shell command in the project inside the root, the venv first on PATH
    in_root sh -c "cd $SRC && export PATH=$VENV/bin:\$PATH SDL_VIDEODRIVER=offscreen LIBGL_ALWAYS_SOFTWARE=1 \
        VENV=$VENV HAILONG_ARM64=1 HAILONG_TEST_SLOWDOWN=$SLOWDOWN && $1"
}

pytest_in_root() {  # pytest_in_root LOG ARGS...: quoted for the root's shell, its output kept in $STATE/LOG
    local log="$1" args
    shift
    args="$(printf "'%s' " "$@")"
    in_project "python -m pytest -p no:cacheprovider -x -o addopts='-ra --strict-markers' $args" \
        | tee "$STATE/$log"
}

do_tests() {
    pytest_in_root tests.log -q "${ARM64_TESTS[@]}" -k "not postgresql"
}

do_ui_tests() {
    pytest_in_root ui-tests.log -q "${ARM64_UI_TESTS[@]}"
}

do_bundle() {
    # The venv is installed already: make's install target is up to date once its marker is newer.
    in_project "touch $VENV/.installed && make bundle VENV=$VENV" >"$STATE/bundle.log" 2>&1 || {
        tail -n 60 "$STATE/bundle.log" >&2
        exit 1
    }
    mkdir -p "$REPO/dist/aarch64"
    rm -rf "$REPO/dist/aarch64/kiosk"
    cp -a "$ROOT$SRC/dist/kiosk" "$REPO/dist/aarch64/kiosk"
    echo "arm64: dist/aarch64/kiosk: $(du -sm --apparent-size "$REPO/dist/aarch64/kiosk" | cut -f1) MB," \
        "$(file -b "$REPO/dist/aarch64/kiosk/kiosk" 2>/dev/null | cut -d, -f1-2 || echo aarch64)"
}

do_run() {
    rm -f "$ROOT$SRC/tests/output/arm64-run.json"
    pytest_in_root run.log -v -s tests/test_bundle.py tests/test_arm64_bundle.py
    echo "arm64: figures of the headless run: $(tr -d '\n' <"$ROOT$SRC/tests/output/arm64-run.json" | tr -s ' ')"
}

do_pack() {
    # The release archive an update ships (kiosk-release pack, inside the root so the aarch64 bundle's own
    # version is read); signing is left to the release maker's offline computer (README: the fleet section).
    local version
    version=$(in_project "$VENV/bin/python -c 'import kiosk; print(kiosk.__version__)'")
    in_project "$VENV/bin/kiosk-release pack dist/kiosk --version $version --arch aarch64 --out dist" \
        >"$STATE/pack.log" 2>&1 || { cat "$STATE/pack.log" >&2; exit 1; }
    cp "$ROOT$SRC/dist/hai-long-kiosk-$version-aarch64.tar.gz" "$REPO/dist/aarch64/"
    echo "arm64: dist/aarch64/hai-long-kiosk-$version-aarch64.tar.gz:" \
        "$(stat -c %s "$REPO/dist/aarch64/hai-long-kiosk-$version-aarch64.tar.gz") bytes, to sign with" \
        "kiosk-release sign"
}

clean_root() {
    local mounted
    # Anything still mounted inside (a run killed half-way) first: never delete through a bind of /dev.
    mounted=$(awk -v root="$ROOT" 'index($2, root "/") == 1 {print $2}' /proc/self/mounts | sort -r)
    for path in $mounted; do umount -l "$path"; done
    rm -rf --one-file-system "$ROOT" "$ROOT.debootstrap.log"
}

if ((CLEAN)); then
    if ((DRY_RUN)); then echo "arm64: would delete $ROOT"; exit 0; fi
    clean_root
    rm -rf "$REPO/dist/aarch64"
    echo "arm64: deleted $ROOT and dist/aarch64"
    exit 0
fi

plan
if ((DRY_RUN)); then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
    echo "arm64: needs root (debootstrap, chroot, mounts); run it as root" >&2
    exit 1
fi

started=$SECONDS
trap unmount_all EXIT
stage binfmt do_binfmt
stage root do_root
mount_root
stage packages do_packages
stage pip do_pip
stage project do_project
stage venv do_venv
stage tests do_tests
stage ui-tests do_ui_tests
stage bundle do_bundle
stage run do_run
stage pack do_pack
echo "arm64: stage times: $(IFS=,; echo "${TIMES[*]}")"
echo "arm64: done in $((SECONDS - started)) s; the aarch64 bundle is dist/aarch64/kiosk"
