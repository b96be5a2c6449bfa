#!/usr/bin/env bash
# Builds the Python binding (python/dist.sh wheel: the abi3 wheel `make wheel` ships), installs it into a FRESH venv
# with the python-socketio client and pytest, and runs the binding's tests.
#   tests/pybinding/run.sh            everything
#   tests/pybinding/run.sh -k acks    pytest arguments are passed on
#   PYBINDING_QUICK=1 tests/pybinding/run.sh   keep the venv (reinstalled only when a
#                                              requirements file changed), debug build
#   NO_BROWSER=1 tests/pybinding/run.sh        without the chat examples in headless Chromium
# With no arguments it also runs tests/flask (the Flask compatibility suite: the same apps
# and tests on Flask-SocketIO and on ferrosocket.flask; FLASK_IMPL=flask_socketio or
# FLASK_IMPL=ferrosocket runs one side only), tests/redis (two Flask servers, either
# implementation, on one real redis-server, installed with apt-get when missing; the same
# FLASK_IMPL choice), tests/js and tests/python against
# spec_server.py (the test server's SPEC.md on the binding) and the chat examples in
# headless Chromium.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

LOG_TAG=pybinding
. "$root/tests/lib/env.sh"
venv="$root/target/pybinding-venv"
quick="${PYBINDING_QUICK:-}"
py="$venv/bin/python"
pip=("$py" -m pip install --quiet --disable-pip-version-check --no-input)
requirements=("$here/requirements.txt" "$root/examples/flask_chat/requirements.txt"
  "$root/tests/flask/requirements.txt" "$root/tests/redis/requirements.txt")
if [[ -n "$quick" ]]; then
  ensure_venv "$venv" "${requirements[@]}"
else
  fresh_venv "$venv" "${requirements[@]}"
fi

# The wheel users get (`make wheel`: manylinux2014, LTO, stripped, into dist/), or with
# PYBINDING_QUICK a debug build of the same package.
if [[ -n "$quick" ]]; then
  rm -rf "$root/target/wheels/ferrosocket-"*.whl
  (cd python && "$venv/bin/maturin" build --quiet -o "$root/target/wheels")
  wheels="$root/target/wheels"
else
  "$root/python/dist.sh" wheel
  wheels="$root/dist"
fi
"${pip[@]}" --force-reinstall --no-deps --no-index --find-links "$wheels" ferrosocket </dev/null

# The stubs must match the built module; the package type-checks strictly.
(cd "$here" && "$py" -m mypy.stubtest ferrosocket._native)
"$py" -m mypy --strict "$root/python/python/ferrosocket"
cd "$here"
"$py" -m pytest "$@"

# With no pytest arguments, the rest runs too:
# - tests/flask, on both implementations unless FLASK_IMPL names one;
# - tests/redis, the fleets of two Flask servers on one redis-server (every pair of
#   implementations, or those FLASK_IMPL keeps);
# - the JS and the Python end-to-end suites (tests/js: the official socket.io-client and
#   ws, 1,000 concurrent clients; tests/python: python-socketio on both transports, raw
#   Engine.IO, CORS, malformed input) against tests/test-server/SPEC.md written with the
#   binding (spec_server.py), exactly as they run against the Rust test server;
# - the Python and the Flask chat examples under the browser test (headless Chromium, the
#   same page and checks as for the Rust and C chats), and the seed articles' Flask apps
#   with their own pages (tests/browser/seeds.test.mjs), and the Flask chat as two servers
#   sharing one redis-server (tests/browser/fleet.test.mjs), unless NO_BROWSER=1.
if [[ $# -eq 0 ]]; then
  log "tests/flask (${FLASK_IMPL:-flask_socketio and ferrosocket})"
  "$py" -m pytest "$root/tests/flask"
  ensure_redis
  # tests/redis also runs the Rust test-server in python-socketio's format beside
  # Flask-SocketIO (a no-op when make's build-test-bins already built it).
  (cd "$root" && cargo build --quiet -p ferrosocket-test-server)
  log "tests/redis (${FLASK_IMPL:-flask_socketio and ferrosocket})"
  "$py" -m pytest "$root/tests/redis"
  bin="$root/target/pybinding-bin"
  mkdir -p "$bin"
  wrap() { # name script [fixed args]
    local name=$1 script=$2
    shift 2
    printf '#!/bin/sh\nexec "%s" "%s" %s "$@"\n' "$py" "$script" "$*" >"$bin/$name"
    chmod +x "$bin/$name"
  }
  wrap spec_server "$here/spec_server.py"
  wrap python_chat "$root/examples/python_chat/chat.py"
  # The Flask chat on one port; with FLASK_IMPL=flask_socketio, on Flask-SocketIO (the
  # same app.py with its import line rewritten, by tests/flask/serve.py).
  if [[ "${FLASK_IMPL:-}" == flask_socketio ]]; then
    wrap flask_chat "$root/tests/flask/serve.py" flask_socketio \
      "$root/examples/flask_chat/app.py" --main --
  else
    wrap flask_chat "$root/examples/flask_chat/app.py"
  fi
  log "tests/js against spec_server.py"
  FERROSOCKET_TEST_SERVER="$bin/spec_server" "$root/tests/js/run.sh"
  log "tests/python against spec_server.py"
  FERROSOCKET_TEST_SERVER="$bin/spec_server" "$root/tests/python/run.sh" -q
  if [[ -z "${NO_BROWSER:-}" ]]; then
    for chat in python_chat flask_chat; do
      log "examples/$chat under tests/browser"
      BROWSER_TEST=chat.test.mjs FERROSOCKET_CHAT_SERVER="$bin/$chat" "$root/tests/browser/run.sh"
    done
    log "examples/flask_seeds under tests/browser"
    BROWSER_TEST=seeds.test.mjs FERROSOCKET_SEEDS_PYTHON="$py" "$root/tests/browser/run.sh"
    # The Flask chat as two servers on one redis-server, and a write-only emitter.
    log "examples/flask_chat as a Redis fleet under tests/browser"
    BROWSER_TEST=fleet.test.mjs FERROSOCKET_FLEET_PYTHON="$py" "$root/tests/browser/run.sh"
  fi
fi
