#!/usr/bin/env bash
# `make demo`: the whole system on one machine, on embedded defaults.
#   1. a central server (SQLite under var/) in the background,
#   2. a terminal enrolled with it automatically (config var/demo-terminal.toml),
#   3. the kiosk window with mock pins (keys 1-9, 0),
# and the server's address, a dashboard account and an admin token printed. Closing the window stops both.
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

if [ ! -f "$TERMINAL_CONFIG" ] || ! grep -q "^url = \"$SERVER_URL\"" "$TERMINAL_CONFIG"; then
    sed -e 's/^id = .*/id = "unprovisioned"/' -e "s|^path = .*|path = \"$VAR/kiosk.db\"|" \
        deploy/demo.toml > "$TERMINAL_CONFIG"
    printf '\n[server]\ntoken_file = "%s/device.token"\n' "$VAR" >> "$TERMINAL_CONFIG"
    code=$("$BIN/kiosk-server" enroll-code --db "$SERVER_DB" --site "UBND phường Phúc La" --counter "Quầy 1" 2>/dev/null | sed -n 1p)
    "$BIN/kiosk" provision --config "$TERMINAL_CONFIG" --server "$SERVER_URL" --code "$code" --force | sed -n 1p
fi
# The demo's province admin, with a new password each run (made the first time, reset after).
password="demo-$("$BIN/python" -c 'import secrets; print(secrets.token_hex(6))')"
if ! printf '%s\n' "$password" | "$BIN/kiosk-server" create-admin demo.admin --name "Quản trị demo" \
        --password-stdin --db "$SERVER_DB" >/dev/null 2>&1; then
    printf '%s\n' "$password" | "$BIN/kiosk-server" reset-password demo.admin --password-stdin --db "$SERVER_DB" \
        >/dev/null 2>&1
fi
token=$("$BIN/kiosk-server" admin-token --db "$SERVER_DB" --account demo.admin 2>/dev/null)

cat <<MSG

  Hài Lòng demo
  central server : $SERVER_URL   (log: $VAR/demo-server.log)
  dashboard      : $SERVER_URL/   user name demo.admin, password $password
  admin token    : $token   (for kiosk-admin and scripts)
  terminal       : keys 1 2 3 rate, 4-9 reasons, 0 skip; service screen PIN 1234
  close the kiosk window (or "Leave kiosk mode") to stop both.

  In another terminal, on this demo's server and database (copy and paste):
    export HAILONG_DB_URL=$SERVER_DB HAILONG_ADMIN_TOKEN=$token
    $BIN/kiosk-server terminals
    $BIN/kiosk-server enroll-code --site "UBND phường Phúc La" --counter "Quầy 2" --server $SERVER_URL
    $BIN/kiosk-admin pull --server $SERVER_URL --out $VAR/ratings.db
    $BIN/kiosk-admin report --db $VAR/ratings.db

MSG
status=0
"$BIN/kiosk" run --config "$TERMINAL_CONFIG" --mock-pins --windowed || status=$?
# 4 is "Leave kiosk mode" (kiosk/restart.py): a normal end of the demo, not a failure for make.
if [ "$status" -eq 4 ]; then
    echo "demo: left kiosk mode; the demo server stops too."
    exit 0
fi
exit "$status"
