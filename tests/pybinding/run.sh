#!/usr/bin/env bash
# Builds the Python binding (maturin, release, abi3 wheel), installs it into a FRESH venv
# with the python-socketio client and pytest, and runs the binding's tests.
#   tests/pybinding/run.sh            everything
#   tests/pybinding/run.sh -k acks    pytest arguments are passed on
#   PYBINDING_QUICK=1 tests/pybinding/run.sh   keep the venv, debug build (for iterating)
#   NO_BROWSER=1 tests/pybinding/run.sh        without the chat examples in headless Chromium
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/pybinding-venv"
quick="${PYBINDING_QUICK:-}"
py="$venv/bin/python"
pip=("$py" -m pip install --quiet --disable-pip-version-check --no-input)
if [[ -z "$quick" || ! -x "$py" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "${pip[@]}" -r "$here/requirements.txt" </dev/null
fi

rm -rf "$root/target/wheels/ferrosocket-"*.whl
release=(--release)
[[ -n "$quick" ]] && release=()
(cd python && "$venv/bin/maturin" build "${release[@]}" --quiet -o "$root/target/wheels")
"${pip[@]}" --force-reinstall --no-deps --no-index --find-links "$root/target/wheels" ferrosocket </dev/null

# The stubs must match the built module; the package type-checks strictly.
(cd "$here" && "$py" -m mypy.stubtest ferrosocket._native)
"$py" -m mypy --strict "$root/python/python/ferrosocket"
cd "$here"
"$py" -m pytest "$@"

# The Python and the Flask chat examples under the browser test (headless Chromium, the
# same page and checks as for the Rust and C chats). Skipped when pytest arguments select
# tests, or with NO_BROWSER=1.
if [[ -z "${NO_BROWSER:-}" && $# -eq 0 ]]; then
  bin="$root/target/pybinding-bin"
  mkdir -p "$bin"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$py" "$root/examples/python_chat/chat.py" >"$bin/python_chat"
  printf '#!/bin/sh\nexec "%s" "%s" --sio-port 0 "$@"\n' "$py" "$root/examples/flask_chat/app.py" >"$bin/flask_chat"
  chmod +x "$bin/python_chat" "$bin/flask_chat"
  for chat in python_chat flask_chat; do
    echo "[pybinding] examples/$chat under tests/browser" >&2
    FERROSOCKET_CHAT_SERVER="$bin/$chat" "$root/tests/browser/run.sh"
  done
fi
