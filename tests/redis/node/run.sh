#!/usr/bin/env bash
# The node side of the Redis fleet: node socket.io 4.8 + @socket.io/redis-adapter and
# @socket.io/redis-emitter in one fleet with ferrosocket's test server, on a real
# redis-server started per fleet on a free loopback port (fleet.test.mjs).
# Builds nothing: fleets with a ferrosocket member use target/debug/test-server (or
# $FERROSOCKET_TEST_SERVER), built with its --redis flags.
# Usage: tests/redis/node/run.sh [test files...]   (default: fleet.test.mjs)
#        tests/redis/node/run.sh --capture [OUT_DIR]  (re-records tests/redis/fixtures/socket.io)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
LOG_TAG=redis-node
. ../../lib/env.sh

ensure_redis
ensure_npm .

if [[ "${1:-}" == "--capture" ]]; then
  shift
  exec node capture.mjs "$@" </dev/null
fi
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  files=(fleet.test.mjs)
fi
# One file at a time, and node:test runs a file's describe blocks in order: one fleet's
# servers at a time on a 2-core machine.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" </dev/null
