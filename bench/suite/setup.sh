#!/usr/bin/env bash
# Installs everything the peer-server suite needs, from the package registries only.
# Idempotent: re-running skips what is already there and up to date. With --python-only it
# stops after the first two (bench/flask/setup.sh).
#   - bench/.venv: python-socketio + uvicorn, Flask-SocketIO (eventlet, gevent, threading),
#     matplotlib (charts), maturin, pinned in bench/peers/python/requirements.txt, and the
#     HTTP servers of bench/flask/ (gunicorn, granian) in requirements-http.txt
#   - ferrosocket's Python binding (python/), built with maturin (release, abi3 wheel into
#     target/bench-wheels) and installed into bench/.venv (the ferrosocket-python peer)
#   - bench/peers/node/node_modules: socket.io 4.x from the committed package-lock.json
#   - bench/peers/socketioxide/target/release/socketioxide-peer (its own workspace)
#   - target/release/{test-server,loadgen} (ferrosocket's own, from the root workspace)
#   - target/c-bench/echo: the C peer over libferrosocket.a (gcc)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

echo "== python venv (bench/.venv)"
if [ ! -x bench/.venv/bin/python ]; then
  "$PY" -m venv bench/.venv
fi
# Keep the venv out of git without touching any .gitignore outside bench/peers, bench/suite.
[ -f bench/.venv/.gitignore ] || echo '*' > bench/.venv/.gitignore
REQ=bench/peers/python/requirements.txt
REQ_HTTP=bench/peers/python/requirements-http.txt  # gunicorn, granian: bench/flask/
STAMP=bench/.venv/.requirements.sha256
if [ ! -f "$STAMP" ] || ! sha256sum -c --status "$STAMP" 2>/dev/null || ! grep -q "$REQ_HTTP" "$STAMP"; then
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

# bench/flask/setup.sh needs only the venv and the binding (then builds loadgen itself).
if [ "${1:-}" = --python-only ]; then
  exit 0
fi

echo "== node peer (npm ci)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node/npm not found: install nodejs and npm (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi
NODE_DIR=bench/peers/node
if [ ! -f "$NODE_DIR/node_modules/.package-lock.json" ] \
   || [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "   up to date"
fi

echo "== socketioxide peer (cargo build --release, own workspace)"
(cd bench/peers/socketioxide && cargo build --release --locked -q)

echo "== ferrosocket test-server and loadgen"
cargo build --release -q -p ferrosocket-test-server -p ferrosocket-bench

echo "== ferrosocket C peer (libferrosocket.a + bench/peers/c/echo.c)"
cargo build --release -q -p ferrosocket-ffi
mkdir -p target/c-bench
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude bench/peers/c/echo.c \
  target/release/libferrosocket.a -lpthread -ldl -lm -o target/c-bench/echo

echo "== versions"
echo "node $(node --version), socket.io $(node -p "require('./$NODE_DIR/node_modules/socket.io/package.json').version")"
bench/.venv/bin/python -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ["python-socketio","python-engineio","uvicorn","Flask-SocketIO","eventlet","gevent","gevent-websocket","simple-websocket","matplotlib","maturin","ferrosocket"]))'
grep -A1 '^name = "socketioxide"$' bench/peers/socketioxide/Cargo.lock | tr '\n' ' '; echo
echo "setup done"
