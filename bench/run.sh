#!/usr/bin/env bash
# Runs the reference benchmark suite (see bench/README.md) from the repository root.
#   bench/run.sh [REPEAT]      each scenario REPEAT times (default 1)
# Human summaries go to stdout; the RESULT lines are also appended to $OUT
# (default target/bench-results.jsonl). Exits non-zero if any run was not clean.
set -u
cd "$(dirname "$0")/.."
REPEAT=${1:-1}
OUT=${OUT:-target/bench-results.jsonl}
CARGO=${CARGO:-cargo}
$CARGO build --release -q -p ferrosocket-test-server -p ferrosocket-bench || exit 2
LOADGEN=target/release/loadgen
status=0
run() {
    local out
    echo "== loadgen $*"
    out=$("$LOADGEN" --pin "$@" 2>&1) || status=1
    printf '%s\n' "$out" | grep -v '^RESULT '
    printf '%s\n' "$out" | sed -n 's/^RESULT //p' >> "$OUT"
}
for _ in $(seq "$REPEAT"); do
    run idle --clients 10000
    run fanout --clients 1000 --messages 2000 --publishers 1
    run fanout --clients 1000 --messages 2000 --publishers 16
    run echo --clients 1 --duration 10
    run echo --clients 100 --duration 10
    run echo --clients 1000 --duration 10
done
echo "RESULT lines appended to $OUT"
exit $status
