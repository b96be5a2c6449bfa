#!/usr/bin/env bash
# Generates include/ferrosocket.h from ffi/src with a pinned cbindgen.
#   ffi/gen-header.sh          regenerate the committed header
#   ffi/gen-header.sh --check  fail when the committed header differs from a fresh one
# cbindgen is installed once into target/tools (repo-local) at the pinned version.
set -euo pipefail
CBINDGEN_VERSION=0.29.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="$root/target/tools"
cbindgen="$tools/bin/cbindgen"

if [[ ! -x "$cbindgen" ]] || [[ "$("$cbindgen" --version)" != "cbindgen $CBINDGEN_VERSION" ]]; then
  echo "gen-header: installing cbindgen $CBINDGEN_VERSION into $tools" >&2
  # A debug build: it installs in a third of the time of a release one (about 40 s against
  # 106 s on 2 cores, which every fresh CI clone pays) and writes the same header in half a
  # second.
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root "$tools" --force --quiet --debug
fi

header="$root/include/ferrosocket.h"
generate() {
  (cd "$here" && "$cbindgen" --quiet --config "$here/cbindgen.toml" --crate ferrosocket-ffi --output "$1")
}

case "${1:-}" in
  --check)
    fresh="$(mktemp)"
    trap 'rm -f "$fresh"' EXIT
    generate "$fresh"
    if ! diff -u "$header" "$fresh"; then
      echo "gen-header: include/ferrosocket.h is out of date; run ffi/gen-header.sh" >&2
      exit 1
    fi
    echo "gen-header: include/ferrosocket.h is up to date"
    ;;
  "")
    mkdir -p "$root/include"
    generate "$header"
    echo "gen-header: wrote include/ferrosocket.h"
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
