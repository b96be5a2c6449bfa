#!/usr/bin/env bash
# Side by side in one sitting: two test-server binaries (e.g. one built from an older
# commit, one from this tree), alternated ROUNDS times through the quick suite against the
# same peers, so a change is compared with its base under the same machine noise.
#
#   bench/suite/ab.sh BASE_TEST_SERVER NEW_TEST_SERVER [ROUNDS] [run.py options...]
#   e.g. git worktree add /tmp/base accb1b7 && cargo build --release -p ferrosocket-test-server \
#          --manifest-path /tmp/base/Cargo.toml --target-dir /tmp/base-target
#        bench/suite/ab.sh /tmp/base-target/release/test-server target/release/test-server 3
#
# Reports go to target/bench-ab/{base,new}-N.md; target/release/test-server is put back as
# it was. Needs `bench/suite/setup.sh` once (peers, venv). Default peers: ferrosocket and
# socketioxide, scenarios echo and fanout.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
base="$(realpath "$1")" new="$(realpath "$2")" rounds="${3:-3}"
shift $(( $# < 3 ? $# : 3 ))
[[ $# -gt 0 ]] || set -- --peers ferrosocket,socketioxide --scenarios echo,fanout
out=target/bench-ab
mkdir -p "$out"
installed=target/release/test-server
saved="$out/test-server.saved"
cp "$installed" "$saved"
trap 'cp "$saved" "$installed"' EXIT
for round in $(seq 1 "$rounds"); do
  for which in base new; do
    bin=$base; [[ $which == new ]] && bin=$new
    cp "$bin" "$installed"
    echo "== round $round: $which ($bin)"
    bench/.venv/bin/python bench/suite/run.py --quick "$@" --out "$out/$which-$round.md" \
      --results-dir "$out/$which-$round" >"$out/$which-$round.log" 2>&1
    grep -E '^\| (echo|fanout|idle|storm|slow|chat)' "$out/$which-$round.md" |
      awk -F'|' '{printf "   %-32s %14s  ratio %s\n", $2, $3, $(NF-1)}'
  done
done
