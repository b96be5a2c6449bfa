#!/usr/bin/env bash
# The Flask benchmarks (issue 11, part 7), one command each; results into
# bench/RESULTS-flask.md (see bench/README.md, "Flask benchmarks"):
#   bench/flask/run.sh echo   [--rounds 3] [--duration 5] [--clients 100]
#   bench/flask/run.sh http   [--rounds 3] [--duration 5] [--connections 32] [--servers a,b]
#   bench/flask/run.sh mixed  [--rounds 3] [--duration 10] [--chat-clients 1000]
#   bench/flask/run.sh report   (rewrite RESULTS-flask.md from bench/results/flask-*.json)
# SKIP_SETUP=1 skips bench/flask/setup.sh (venv, release wheel, loadgen).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
if [ "${SKIP_SETUP:-0}" != 1 ] && [ "${1:-}" != report ]; then
  bench/flask/setup.sh
fi
exec nice bench/.venv/bin/python bench/flask/run.py "$@"
