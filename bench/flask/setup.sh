#!/usr/bin/env bash
# What bench/flask/run.sh needs, and nothing else of the peer suite: bench/.venv with the
# pinned Python peers (bench/peers/python/requirements.txt: Flask-SocketIO and its three
# async modes) and HTTP servers (requirements-http.txt: gunicorn, granian), ferrosocket's
# Python binding built with maturin (release) and installed into it, and loadgen.
# Idempotent; package registries only. bench/suite/setup.sh does the same and more.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

echo "== python venv (bench/.venv)"
[ -x bench/.venv/bin/python ] || "$PY" -m venv bench/.venv
[ -f bench/.venv/.gitignore ] || echo '*' > bench/.venv/.gitignore
REQ=bench/peers/python/requirements.txt
REQ_HTTP=bench/peers/python/requirements-http.txt
STAMP=bench/.venv/.requirements.sha256
if [ ! -f "$STAMP" ] || ! sha256sum -c --status "$STAMP" 2>/dev/null; then
  bench/.venv/bin/pip install -q --disable-pip-version-check -r "$REQ" -r "$REQ_HTTP"
  sha256sum "$REQ" "$REQ_HTTP" > "$STAMP"
else
  echo "   up to date"
fi

echo "== ferrosocket Python binding (maturin build --release, into bench/.venv)"
WHEELS="$ROOT/target/bench-wheels"
rm -rf "$WHEELS"
(cd python && "$ROOT/bench/.venv/bin/maturin" build --release --quiet -o "$WHEELS")
WHEEL=$(ls "$WHEELS"/ferrosocket-*.whl)
WSTAMP=bench/.venv/.ferrosocket-wheel.sha256
if [ ! -f "$WSTAMP" ] || [ "$(sha256sum < "$WHEEL")" != "$(cat "$WSTAMP")" ]; then
  bench/.venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
  sha256sum < "$WHEEL" > "$WSTAMP"
else
  echo "   up to date"
fi

echo "== loadgen"
cargo build --release -q -p ferrosocket-bench
echo "setup done"
