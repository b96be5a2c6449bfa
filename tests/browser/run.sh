#!/usr/bin/env bash
# Headless-Chromium end-to-end tests: the chat example, and the Socket.IO Admin UI.
# Called by `make test-browser` (after `cargo build --workspace --bins` and `make chat-assets`);
# works from any directory, as root on a fresh machine, without stdin.
#   FERROSOCKET_CHAT_SERVER  chat server binary (default: <repo>/target/debug/chat)
#   CHROMIUM_PATH            browser (default: /usr/bin/chromium, Debian's package)
#   BROWSER_TEST             test files, space-separated (default "chat.test.mjs
#                            admin-ui.test.mjs"; seeds.test.mjs runs the Flask seed apps, with
#                            FERROSOCKET_SEEDS_PYTHON the binding's python; fleet.test.mjs the
#                            Flask chat as two servers on one Redis, with
#                            FERROSOCKET_FLEET_PYTHON the binding's python and redis-server
#                            on PATH)
#   FERROSOCKET_ADMIN_PYTHON admin-ui.test.mjs's python for the reference server (default: the
#                            venv target/browser-venv, made from requirements.txt here)
#   FERROSOCKET_ADMIN_RUST   admin-ui.test.mjs against target/debug/test-server --admin: 1
#                            required (make test-browser sets it), 0 skipped, unset run when
#                            the binary has --admin
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH

LOG_TAG=browser
. "$ROOT/tests/lib/env.sh"

# 1. The browser: Debian's Chromium (playwright-core downloads none).
if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "$CHROMIUM_PATH" != /usr/bin/chromium ]; then
    log "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"; exit 1
  fi
  log "installing Debian's chromium"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update </dev/null
  $SUDO apt-get install -y chromium </dev/null
fi

BROWSER_TEST="${BROWSER_TEST:-chat.test.mjs admin-ui.test.mjs}"
read -r -a TESTS <<<"$BROWSER_TEST"

# 1b. The fleet test's Redis: Debian's redis-server, installed when missing.
if [[ " ${TESTS[*]} " == *" fleet.test.mjs "* ]]; then
  ensure_redis
fi

# 1c. The Admin UI test's reference server: python-socketio in a venv of its own, unless
# named (its requirements are pinned in requirements.txt; installed only when they changed).
if [[ " ${TESTS[*]} " == *" admin-ui.test.mjs "* && -z "${FERROSOCKET_ADMIN_PYTHON:-}" ]]; then
  ensure_venv "$ROOT/target/browser-venv" "$HERE/requirements.txt"
  export FERROSOCKET_ADMIN_PYTHON="$ROOT/target/browser-venv/bin/python"
fi

# 2. The client libraries and the Admin UI bundle: npm ci when node_modules is missing or
# was installed from another lock file.
ensure_npm "$HERE"

# 3. The page's socket.io client (normally already done by the Makefile).
if [ ! -f "$ROOT/examples/chat/static/vendor/socket.io.min.js" ]; then
  log "make chat-assets"
  make -C "$ROOT" chat-assets </dev/null
fi

# 4. The test; bounded, so a hung browser can never stall CI.
rm -rf "$HERE/artifacts"
mkdir -p "$HERE/artifacts"
log "running (screenshots go to tests/browser/artifacts/)"
cd "$HERE"
# One node run per file, in the order named (node --test would sort them), each run even when
# one before it failed; the status is the first failure's.
status=0
for test in "${TESTS[@]}"; do
  log "node --test $test"
  timeout --kill-after=10 300 node --test --test-concurrency=1 --test-reporter=spec "$test" </dev/null || {
    rc=$?
    log "$test failed (exit $rc)"
    [[ $status -ne 0 ]] || status=$rc
  }
done
exit "$status"
