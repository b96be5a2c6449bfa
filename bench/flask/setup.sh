#!/usr/bin/env bash
# What bench/flask/run.sh needs, and nothing else of the peer suite: bench/.venv with the
# pinned Python peers (bench/peers/python/requirements.txt: Flask-SocketIO and its three
# async modes) and HTTP servers (requirements-http.txt: gunicorn, granian), ferrosocket's
# Python binding built with maturin (release) and installed into it, and loadgen.
# Idempotent; package registries only. The venv and the wheel are bench/suite/setup.sh's
# (--python-only); this adds loadgen.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# The venv and the binding, exactly as the peer suite makes them.
bench/suite/setup.sh --python-only

echo "== loadgen"
cargo build --release -q -p ferrosocket-bench
echo "setup done"
