#!/usr/bin/env bash
# The Redis scale-out benchmark (issue 13, part 7): a room spread over two server
# processes on one redis-server, ferrosocket vs node socket.io + @socket.io/redis-adapter
# vs Flask-SocketIO + Redis, side by side; results appended to
# bench/results/redis-runs.jsonl and written to bench/RESULTS-redis.md.
#   bench/redis/run.sh [--rounds 3] [--clients 1000] [--duration 5] [--peers a,b] [--quick]
#   bench/redis/run.sh report     (rewrite RESULTS-redis.md from redis-runs.jsonl only)
# SKIP_SETUP=1 skips bench/redis/setup.sh (redis-server, venv, npm ci, release build).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
if [ "${SKIP_SETUP:-0}" != 1 ] && [ "${1:-}" != report ]; then
  bench/redis/setup.sh
fi
exec nice bench/.venv/bin/python bench/redis/run.py "$@"
