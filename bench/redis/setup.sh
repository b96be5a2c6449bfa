#!/usr/bin/env bash
# What bench/redis/run.sh needs, and nothing else of the peer suite (registries only,
# idempotent):
#   - redis-server (Debian's package; installed with apt-get when missing)
#   - bench/.venv with the pinned Python peers (bench/peers/python/requirements.txt:
#     Flask-SocketIO, eventlet, redis-py); the suite's venv, without its wheel and HTTP servers
#   - bench/peers/node/node_modules: socket.io, @socket.io/redis-adapter, redis (node-redis)
#     from the committed package-lock.json
#   - target/release/{test-server,loadgen}
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

echo "== redis-server"
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server not found: install Debian's redis-server package" >&2
    exit 1
  fi
fi
redis-server --version

echo "== python venv (bench/.venv)"
if [ ! -x bench/.venv/bin/python ]; then
  "$PY" -m venv bench/.venv
fi
[ -f bench/.venv/.gitignore ] || echo '*' > bench/.venv/.gitignore
REQ=bench/peers/python/requirements.txt
STAMP=bench/.venv/.requirements-redis.sha256
if [ ! -f "$STAMP" ] || ! sha256sum -c --status "$STAMP" 2>/dev/null; then
  bench/.venv/bin/pip install -q --disable-pip-version-check -r "$REQ"
  sha256sum "$REQ" > "$STAMP"
else
  echo "   up to date"
fi

echo "== node peer (npm ci)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node/npm not found: install nodejs and npm (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi
NODE_DIR=bench/peers/node
if [ ! -f "$NODE_DIR/node_modules/.package-lock.json" ] \
   || [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ] \
   || [ ! -d "$NODE_DIR/node_modules/@socket.io/redis-adapter" ]; then
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "   up to date"
fi

echo "== ferrosocket test-server and loadgen"
cargo build --release -q -p ferrosocket-test-server -p ferrosocket-bench
echo "setup done"
