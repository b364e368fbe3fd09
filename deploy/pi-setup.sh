#!/usr/bin/env bash
# Set up a fresh Raspberry Pi (Raspberry Pi OS Bookworm, 64-bit) as a Hài Lòng
# terminal. Run as root; safe to run again (it only changes what differs).
#
#   sudo deploy/pi-setup.sh                      # venv install from this source tree
#   sudo deploy/pi-setup.sh --bundle dist/kiosk  # the PyInstaller bundle instead
#   deploy/pi-setup.sh --root /tmp/pi --dry-run  # write files under /tmp/pi, print commands
#
# What it does: apt packages; the `hailong` user in gpio, input, render, video, audio;
# the app in /opt/hai-long (/opt/hai-long/bin/kiosk, linked from /usr/local/bin; a bundle goes into
# the A/B slot /opt/hai-long/a, `current` pointing at it, started by /opt/hai-long/bin/hai-long-launch);
# /etc/hai-long/kiosk.toml from deploy/kiosk.example.toml if there is none;
# /var/lib/hai-long with Kivy's config (the touchscreen as the only touch
# provider); consoleblank=0 in cmdline.txt; kiosk.service installed and enabled
# (not started). It ends with what is left to do by hand.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: pi-setup.sh [--source DIR | --bundle DIR] [--root DIR --dry-run]

  --source DIR   install into the venv /opt/hai-long/venv from this source tree
                 (default: the tree this script is in)
  --bundle DIR   install the PyInstaller bundle folder DIR (e.g. dist/kiosk) instead
  --root DIR     the root of the system to set up (default /); needs --dry-run
  --dry-run      write files under --root only; print the commands (apt-get,
                 useradd, systemctl, pip...) instead of running them
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$here")"
bundle_dir=""
root="/"
dry_run=0
while (($#)); do
    case "$1" in
        --source) source_dir="${2:?--source needs a folder}"; shift 2 ;;
        --bundle) bundle_dir="${2:?--bundle needs a folder}"; shift 2 ;;
        --root) root="${2:?--root needs a folder}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pi-setup: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

die() { echo "pi-setup: $*" >&2; exit 2; }

if [[ -n "$bundle_dir" ]]; then
    [[ -x "$bundle_dir/kiosk" ]] || die "$bundle_dir/kiosk is not there: build it with \`make bundle\` (on a Pi)"
    bundle_dir="$(cd "$bundle_dir" && pwd)"
else
    [[ -f "$source_dir/pyproject.toml" ]] || die "$source_dir is not the project's source tree (no pyproject.toml)"
    source_dir="$(cd "$source_dir" && pwd)"
fi
if ((dry_run)); then
    [[ "$root" != "/" ]] || die "--dry-run needs --root DIR (a folder to write into, not /)"
    mkdir -p "$root"
    root="$(cd "$root" && pwd)"
else
    [[ "$root" == "/" ]] || die "--root is only for --dry-run"
    [[ $(id -u) -eq 0 ]] || die "run as root: sudo $0 $*"
fi

# -- names the other files agree on (deploy/kiosk.service, kiosk/cli.py) ----
user=hailong
groups=(gpio input render video audio)
app=/opt/hai-long
etc=/etc/hai-long
data=/var/lib/hai-long
unit=kiosk.service
apt_packages=(
    # Kivy drawing with Mesa on KMS/DRM, and reading the touchscreen
    libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libgles2 libgbm1 libdrm2 libmtdev1
    # the spoken prompts: SDL plays them through ALSA
    libasound2
)
if [[ -z "$bundle_dir" ]]; then
    apt_packages+=(python3-venv python3-dev)
fi

done_lines=()
todo_lines=()
did() { done_lines+=("$1"); echo "+ $1"; }
kept() { echo "= $1"; }
todo() { todo_lines+=("$1"); }

# A path on the system being set up.
at() { echo "${root%/}$1"; }

# Run a command, or print it in a dry run.
run() {
    if ((dry_run)); then
        echo "  would run: $*"
    else
        echo "  running: $*"
        "$@"
    fi
}

# Install $1 as $2 (a system path) with mode $3 and owner $4, unless identical.
put_file() {
    local src="$1" dest owner="$4" mode="$3"
    dest="$(at "$2")"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest" && [[ "$(stat -c %a "$dest")" == "${mode#0}" ]]; then
        kept "$2 is up to date"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" "$src" "$dest"
    did "wrote $2 (mode $mode)"
    set_owner "$owner" "$2"
}

# Give a system path its owner; a dry run prints it (the user may not exist there).
set_owner() {
    local owner="$1" path="$2"
    if ((dry_run)); then
        echo "  would run: chown $owner $path"
    elif [[ "$(stat -c %U:%G "$path")" != "$owner" ]]; then
        chown "$owner" "$path"
        did "owner of $path: $owner"
    fi
}

make_dir() {
    local path="$1" mode="$2" owner="$3" dest
    dest="$(at "$path")"
    if [[ -d "$dest" && "$(stat -c %a "$dest")" == "${mode#0}" ]]; then
        kept "$path exists"
        ((dry_run)) || set_owner "$owner" "$path"
    else
        install -d -m "$mode" "$dest"
        did "made $path (mode $mode)"
        set_owner "$owner" "$path"
    fi
}

link() {
    local target="$1" name="$2" dest
    dest="$(at "$name")"
    if [[ -L "$dest" && "$(readlink "$dest")" == "$target" ]]; then
        kept "$name -> $target"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    ln -sfn "$target" "$dest"
    did "linked $name -> $target"
}

# The group file of the system being set up (/etc/group on a real run).
in_group_file() { grep -qE "^$1:" "$(at /etc/group)" 2>/dev/null; }
user_exists() { grep -qE "^$1:" "$(at /etc/passwd)" 2>/dev/null; }
user_in_group() { grep -E "^$2:" "$(at /etc/group)" 2>/dev/null | cut -d: -f4 | tr , '\n' | grep -qx "$1"; }

echo "pi-setup: setting up ${root} as a Hài Lòng terminal$( ((dry_run)) && echo ' (dry run: commands are printed, not run)')"

# -- 1. apt packages ---------------------------------------------------------
missing=()
for pkg in "${apt_packages[@]}"; do
    if [[ "$(dpkg-query --admindir="$(at /var/lib/dpkg)" -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != "installed" ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    did "apt packages: ${missing[*]}"
else
    kept "apt packages already installed: ${apt_packages[*]}"
fi

# -- 2. the service user -----------------------------------------------------
for group in "${groups[@]}"; do
    if ! in_group_file "$group"; then
        run groupadd --system "$group"
        # gpio comes with Raspberry Pi OS; without it this is probably not one.
        did "group $group$([[ $group == gpio ]] && echo ' (it did not exist: is this Raspberry Pi OS?)')"
    fi
done
if ! user_exists "$user"; then
    run useradd --system --user-group --no-create-home --home-dir "$data" \
        --shell /usr/sbin/nologin --groups "$(IFS=,; echo "${groups[*]}")" "$user"
    did "user $user in groups ${groups[*]}"
else
    for group in "${groups[@]}"; do
        if ! user_in_group "$user" "$group"; then
            run usermod --append --groups "$group" "$user"
            did "added $user to group $group"
        fi
    done
    kept "user $user exists"
fi

# -- 3. the app in /opt/hai-long ----------------------------------------------
if [[ -n "$bundle_dir" ]]; then
    # The A/B slots of signed updates (kiosk/updates.py): the bundle goes into slot a, `current` points at
    # it, and the terminal's user may write the slots and the links (ProtectSystem=full leaves /opt writable).
    make_dir "$app" 0775 "root:$user"
else
    make_dir "$app" 0755 root:root
fi
make_dir "$app/bin" 0755 root:root
put_file "$here/hai-long-launch" "$app/bin/hai-long-launch" 0755 root:root
if [[ -n "$bundle_dir" ]]; then
    current=""
    if [[ -L "$(at "$app/current")" ]]; then
        current="$(basename "$(readlink "$(at "$app/current")")")"
    fi
    if [[ -n "$current" ]] && diff -rq -x VERSION "$bundle_dir" "$(at "$app/$current/kiosk")" >/dev/null 2>&1; then
        kept "$app/$current/kiosk (the current slot) is the same as $bundle_dir"
    else
        # The first install goes into slot a; a later one (by hand) into the slot not running, then switches.
        slot=a
        [[ "$current" == a ]] && slot=b
        rm -rf "$(at "$app/$slot")"
        mkdir -p "$(at "$app/$slot")"
        cp -a "$bundle_dir" "$(at "$app/$slot/kiosk")"
        did "copied the bundle $bundle_dir to $app/$slot/kiosk"
        run chown -R "$user:$user" "$app/$slot"
        link "$slot" "$app/current"
    fi
    link "$app/current/kiosk/kiosk" "$app/bin/kiosk"
else
    version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$source_dir/kiosk/__init__.py")"
    installed=""
    if [[ -x "$(at "$app/venv/bin/kiosk")" ]]; then
        installed="$("$(at "$app/venv/bin/kiosk")" --version 2>/dev/null | awk '{print $NF}')" || installed=""
    fi
    if [[ -n "$version" && "$installed" == "$version" ]]; then
        kept "$app/venv has kiosk $version (to reinstall: $app/venv/bin/pip install --force-reinstall '${source_dir}[pi]')"
    else
        if [[ ! -x "$(at "$app/venv/bin/python")" ]]; then
            run python3 -m venv "$app/venv"
        fi
        run "$app/venv/bin/pip" install --quiet "${source_dir}[pi]"
        did "installed kiosk ${version:-?} from $source_dir into $app/venv"
    fi
    link "$app/venv/bin/kiosk" "$app/bin/kiosk"
fi
link "$app/bin/kiosk" /usr/local/bin/kiosk

# -- 4. config and data -------------------------------------------------------
make_dir "$etc" 0755 root:root
if [[ -f "$(at "$etc/kiosk.toml")" ]]; then
    kept "$etc/kiosk.toml exists (left as it is)"
else
    put_file "$here/kiosk.example.toml" "$etc/kiosk.toml" 0640 "root:$user"
    todo "Edit $etc/kiosk.toml: [pins], [leds], [buzzer] (delete what is not wired), [display] rotation and touch."
fi
make_dir "$data" 0750 "$user:$user"
make_dir "$data/kivy" 0750 "$user:$user"
put_file "$here/kivy-config.ini" "$data/kivy/config.ini" 0640 "$user:$user"

# -- 5. screen blanking off on the console -----------------------------------
cmdline=""
for candidate in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [[ -f "$(at "$candidate")" ]]; then cmdline="$candidate"; break; fi
done
if [[ -z "$cmdline" ]]; then
    todo "No cmdline.txt found in /boot/firmware or /boot: add consoleblank=0 to the kernel command line by hand."
elif grep -qw 'consoleblank=0' "$(at "$cmdline")"; then
    kept "$cmdline has consoleblank=0"
else
    # One line only: replace any other consoleblank= value, else append.
    sed -i -E -e 's/(^| )consoleblank=[0-9]+//g' -e '1s/[[:space:]]*$/ consoleblank=0/' "$(at "$cmdline")"
    did "consoleblank=0 in $cmdline (from the next boot)"
    todo "Reboot once, so that consoleblank=0 takes effect."
fi

# -- 6. the systemd unit ------------------------------------------------------
put_file "$here/kiosk.service" "/etc/systemd/system/$unit" 0644 root:root
systemd_version="${PI_SETUP_SYSTEMD_VERSION:-$(systemctl --version 2>/dev/null | awk 'NR==1 {print $2}')}"
if [[ "${systemd_version:-0}" =~ ^[0-9]+$ ]] && ((systemd_version >= 254)); then
    put_file "$here/kiosk.service.d/backoff.conf" "/etc/systemd/system/$unit.d/backoff.conf" 0644 root:root
else
    kept "systemd ${systemd_version:-?}: restarts every 5 s (back-off needs systemd 254+)"
fi
if ((dry_run)); then
    if [[ -L "$(at "/etc/systemd/system/multi-user.target.wants/$unit")" ]]; then
        kept "$unit is enabled"
    elif command -v systemctl >/dev/null; then
        # Offline: systemctl only makes the symlinks under --root.
        systemctl --root="$root" --quiet enable "$unit"
        did "enabled $unit"
    else
        run systemctl enable "$unit"
    fi
else
    run systemctl daemon-reload
    if systemctl --quiet is-enabled "$unit" 2>/dev/null; then
        kept "$unit is enabled"
    else
        run systemctl enable "$unit"
        did "enabled $unit (starts at boot)"
    fi
fi

# -- what is left ------------------------------------------------------------
todo "Provision: sudo kiosk provision <enrolment string hailong1:... from the district> (or --server URL --code CODE)."
todo "Service PIN: kiosk pin-hash, then paste the printed pin_hash line into [service] of $etc/kiosk.toml."
todo "Check: sudo -u $user kiosk status; wire the buttons, then sudo -u $user kiosk selftest."
todo "Start: sudo systemctl start kiosk (or reboot), then journalctl -u kiosk -b."

echo
if ((${#done_lines[@]})); then
    if ((dry_run)); then
        echo "pi-setup: dry run done; under $root, or still to be run as printed (${#done_lines[@]} change(s)):"
    else
        echo "pi-setup: done (${#done_lines[@]} change(s)):"
    fi
    printf '  - %s\n' "${done_lines[@]}"
else
    echo "pi-setup: nothing to change; everything was already set up."
fi
echo "Left to do:"
printf '  - %s\n' "${todo_lines[@]}"
