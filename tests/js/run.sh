#!/usr/bin/env bash
# Runs the JS end-to-end suite against target/debug/test-server (or $FERROSOCKET_TEST_SERVER).
# Usage: tests/js/run.sh [test files...]   (default: every *.test.mjs here)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export CI="${CI:-}"
LOG_TAG=js
. ../lib/env.sh

# The pinned dependencies, when node_modules is missing or from another lock file.
ensure_npm .

# 1,000-client load test: make sure the soft fd limit allows it (the server inherits it).
soft=$(ulimit -Sn)
if [[ "$soft" != unlimited && "$soft" -lt 8192 ]]; then
  ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || ulimit -Sn 8192 2>/dev/null || true
fi

if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=(*.test.mjs)
fi
# One file at a time keeps timing-sensitive tests (heartbeat, load) away from each other
# on a 2-core machine.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" </dev/null
