#!/usr/bin/env bash
# `make demo`: the whole system on one machine, on embedded defaults.
#   1. a central server (SQLite under var/) in the background, holding a small province (deploy/demo-tree.csv:
#      Hà Nội, two wards, a one-stop office each, their counters),
#   2. a terminal enrolled with it automatically at Phúc La's first counter (config var/demo-terminal.toml),
#   3. two officers of Phúc La on the server (deploy/demo_officers.py), which the terminal fetches,
#   4. the kiosk window with mock pins (keys 1-9, 0; F2/F3 scan the officers' badges, F4 a dossier code),
#      heartbeat every 15 s, so a remote setting changed with the printed `kiosk-server settings set` shows on
#      its screen within about 15 s,
# and the server's address, an account of each role (new passwords each run) and an admin token printed.
# Closing the window stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PORT=${DEMO_PORT:-8765}
VAR=${DEMO_VAR:-var}
mkdir -p "$VAR"
# Absolute: the commands the banner prints work when pasted into any folder.
BIN=$(cd "$BIN" && pwd)
VAR=$(cd "$VAR" && pwd)
SERVER_URL="http://127.0.0.1:${PORT}"
SERVER_DB="sqlite:///${VAR}/demo-server.db"
TERMINAL_CONFIG=${VAR}/demo-terminal.toml

"$BIN/kiosk-server" serve --db "$SERVER_DB" --port "$PORT" >"$VAR/demo-server.log" 2>&1 &
server_pid=$!
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
    if "$BIN/python" -c "import requests, sys; requests.get(sys.argv[1] + '/healthz', timeout=1).raise_for_status()" \
        "$SERVER_URL" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { echo "demo: the server did not start; see $VAR/demo-server.log" >&2; exit 1; }
    sleep 0.1
done

# The province's tree (again each run: an unchanged file changes nothing).
"$BIN/kiosk-server" import-tree deploy/demo-tree.csv --db "$SERVER_DB" >/dev/null

if [ ! -f "$TERMINAL_CONFIG" ] || ! grep -q "^url = \"$SERVER_URL\"" "$TERMINAL_CONFIG" \
        || ! grep -q '^\[officers\]' "$TERMINAL_CONFIG" || ! grep -q '^heartbeat_s = ' "$TERMINAL_CONFIG"; then
    sed -e 's/^id = .*/id = "unprovisioned"/' -e "s|^path = .*|path = \"$VAR/kiosk.db\"|" \
        deploy/demo.toml > "$TERMINAL_CONFIG"
    # A heartbeat every 15 s (300 s on a real terminal): a setting changed on the server shows on the demo's
    # screen within about 15 s.
    printf '\n[server]\ntoken_file = "%s/device.token"\nheartbeat_s = 15\n' "$VAR" >> "$TERMINAL_CONFIG"
    code=$("$BIN/kiosk-server" enroll-code --db "$SERVER_DB" --node DEMO-PL-Q1 2>/dev/null | sed -n 1p)
    "$BIN/kiosk" provision --config "$TERMINAL_CONFIG" --server "$SERVER_URL" --code "$code" --force | sed -n 1p
fi
# An account of each role, with a new password each run (made the first time, reset after):
# user name, role, scope (a node's code; "-": the whole server), name.
ACCOUNTS="demo.admin province_admin - Quản-trị-tỉnh
demo.unit unit_admin DEMO-PL Quản-trị-phường-Phúc-La
demo.viewer viewer DEMO-PL Xem-báo-cáo-Phúc-La
demo.tech technician DEMO-HC Kỹ-thuật-viên-Hà-Cầu
demo.inspector inspector - Thanh-tra"
scope_name() {
    case "$1" in -) echo "whole server" ;; DEMO-PL) echo "Phường Phúc La" ;; DEMO-HC) echo "Phường Hà Cầu" ;; esac
}
existing=$("$BIN/kiosk-server" accounts --db "$SERVER_DB")
account_table=$(printf '    %-15s %-15s %-18s %s' "user name" "role" "password" "scope")
while read -r user role scope name; do
    password="demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    scope_option=()
    [ "$scope" = - ] || scope_option=(--scope "$scope")
    if grep -q "^$user " <<<"$existing"; then
        printf '%s\n' "$password" | "$BIN/kiosk-server" reset-password "$user" --password-stdin --db "$SERVER_DB" \
            >/dev/null 2>&1
    else
        printf '%s\n' "$password" | "$BIN/kiosk-server" create-account "$user" --role "$role" "${scope_option[@]}" \
            --name "${name//-/ }" --password-stdin --db "$SERVER_DB" >/dev/null
    fi
    account_table+=$'\n'$(printf '    %-15s %-15s %-18s %s' "$user" "$role" "$password" "$(scope_name "$scope")")
done <<<"$ACCOUNTS"
token=$("$BIN/kiosk-server" admin-token --db "$SERVER_DB" --account demo.admin 2>/dev/null)
# The counter's officers (again each run: those already there are left alone).
officers=$("$BIN/python" deploy/demo_officers.py "$SERVER_URL" "$token")

cat <<MSG

  Hài Lòng demo
  central server : $SERVER_URL   (log: $VAR/demo-server.log)
  dashboard      : $SERVER_URL/   log in with any of these accounts (new passwords each run):
$account_table
  admin token    : $token   (for kiosk-admin and scripts)
  terminal       : at Phường Phúc La / Quầy 1; keys 1 2 3 rate, 4-9 reasons, 0 skip; service screen PIN 1234
  at the counter : F2 / F3 scan the badge of officer PL001 Nguyễn Thị Lan / PL002 Trần Văn Minh (again: sign-out),
                   F4 scans a new dossier code; or hold the header beside the office's name 2 s: staff code PL001, PIN 2468
                   ($officers)
  close the kiosk window (or "Leave kiosk mode") to stop both.

  In another terminal, on this demo's server and database (copy and paste):
    export HAILONG_DB_URL=$SERVER_DB HAILONG_ADMIN_TOKEN=$token
    $BIN/kiosk-server tree
    $BIN/kiosk-server terminals
    $BIN/kiosk-server enroll-code --node DEMO-PL-Q2 --server $SERVER_URL
    $BIN/kiosk-admin pull --server $SERVER_URL --out $VAR/ratings.db
    $BIN/kiosk-admin report --db $VAR/ratings.db

  Remote settings: change what the terminal shows from the server; it asks every 15 s and applies the change on
  its home screen (never during a rating); \`kiosk status\` and the fleet page show the version applied:
    $BIN/kiosk-server settings set 'texts.question_vi="Anh/chị có hài lòng với Quầy 1 hôm nay không?"' --note demo
    $BIN/kiosk-server settings set 'feedback.thanks_s=6' 'texts.thanks_vi="Xin cảm ơn anh/chị!"' --note demo
    $BIN/kiosk-server settings history
    $BIN/kiosk status --config $TERMINAL_CONFIG

MSG
status=0
"$BIN/kiosk" run --config "$TERMINAL_CONFIG" --mock-pins --windowed || status=$?
# 4 is "Leave kiosk mode" (kiosk/restart.py): a normal end of the demo, not a failure for make.
if [ "$status" -eq 4 ]; then
    echo "demo: left kiosk mode; the demo server stops too."
    exit 0
fi
exit "$status"
