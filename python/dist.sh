#!/usr/bin/env bash
# Builds the Python package's distributions into dist/ (the Makefile's wheel, wheel-musl and
# sdist targets), with the build tools of python/build-requirements.txt in target/dist-venv:
#   python/dist.sh wheel       the abi3 wheel for x86_64 Linux with glibc >= 2.17 and
#                              CPython >= 3.9 (manylinux2014), linked by zig: no docker
#   python/dist.sh wheel-musl  the abi3 wheel for x86_64 Linux with musl >= 1.2 (Alpine);
#                              adds rustup's x86_64-unknown-linux-musl target when missing
#   python/dist.sh sdist       the source distribution; `pip install` builds it with cargo
#   python/dist.sh check FILE  the checks every built wheel passes (also run after a build)
# Wheels are built with the `dist` cargo profile (whole-program LTO, no debug info) and
# stripped. A wheel of the same kind left in dist/ by an earlier build is replaced.
# Environment: DIST_DIR (default dist), DIST_PROFILE (default dist; `release` builds faster
# and links the same code without LTO).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
LOG_TAG=dist
. "$root/tests/lib/env.sh"

dist="${DIST_DIR:-$root/dist}"
[[ "$dist" = /* ]] || dist="$root/$dist"
profile="${DIST_PROFILE:-dist}"
venv="$root/target/dist-venv"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# The one version: the workspace's (Cargo.toml [workspace.package]), as cargo reads it.
crate_version() {
  cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" |
    "$venv/bin/python" -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "ferrosocket-python"))'
}

tools() {
  ensure_venv "$venv" "$here/build-requirements.txt"
  export PATH="$venv/bin:$PATH"
}

# check WHEEL POLICY: what auditwheel says of its platform tag (check_musl for musl), that
# the native module carries no debug info and that the version in its name is the crate's.
check() {
  local wheel="$1" policy="$2" version name
  version="$(crate_version)"
  name="$(basename "$wheel")"
  [[ "$name" == "ferrosocket-$version-cp39-abi3-"*"$policy"*.whl ]] ||
    { log "$name: expected ferrosocket-$version-cp39-abi3-…$policy….whl"; return 1; }
  if [[ "$policy" == manylinux* ]]; then
    local report
    report="$("$venv/bin/auditwheel" show "$wheel" 2>&1)" || { printf '%s\n' "$report" >&2; return 1; }
    printf '%s\n' "$report"
    # auditwheel reflows its report; join the lines before looking for the tag.
    tr '\n' ' ' <<<"$report" | grep -q "is consistent with the following platform tag: \"$policy\"" ||
      { log "$name: auditwheel does not find it consistent with $policy"; return 1; }
  else
    check_musl "$wheel" || return 1
  fi
  "$venv/bin/python" - "$wheel" <<'EOF'
import struct, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
native = [n for n in wheel.namelist() if n.startswith("ferrosocket/_native") and n.endswith(".so")]
assert native == ["ferrosocket/_native.abi3.so"], native
elf = wheel.read(native[0])
# The section names, from the ELF64 section headers (a string search would also find the
# names that std's backtrace code holds as data).
assert elf[:5] == b"\x7fELF\x02", "not an ELF64 file"
shoff, = struct.unpack_from("<Q", elf, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
def header(i):
    name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
    return name, offset, size
_, strtab, _ = header(shstrndx)
def section_name(i):
    start = strtab + header(i)[0]
    return elf[start:elf.index(b"\0", start)].decode()
sections = [section_name(i) for i in range(shnum)]
debug = [n for n in sections if n.startswith(".debug")]
assert not debug, f"the native module has debug info: {debug}"
print(f"{native[0]}: {len(elf):,} bytes, no debug info; wheel {sum(1 for _ in wheel.namelist())} files")
EOF
  log "$name: $(stat -c %s "$wheel") bytes, checked"
}

# check_musl WHEEL: auditwheel cannot read a musl wheel on a glibc machine (it looks the
# musl libc up among the host's libraries), so this checks what it would: the module
# needs nothing but the C library (zig links it as `libc.so`, which musl's loader
# resolves to itself), and, where Debian's musl package is installed, musl's loader
# resolves every symbol but the interpreter's (Py*).
check_musl() {
  local wheel="$1" tmp needed
  tmp="$(mktemp -d)"
  unzip -q -d "$tmp" "$wheel" 'ferrosocket/_native.abi3.so'
  needed="$(readelf -d "$tmp/ferrosocket/_native.abi3.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  local lib
  for lib in $needed; do
    [[ "$lib" == libc.so || "$lib" == libc.musl-x86_64.so.1 ]] ||
      { log "$(basename "$wheel"): needs $lib beside the C library"; rm -rf "$tmp"; return 1; }
  done
  log "$(basename "$wheel"): needs only $needed"
  local loader=/lib/ld-musl-x86_64.so.1
  if [[ -x "$loader" ]]; then
    local unresolved
    unresolved="$("$loader" --list "$tmp/ferrosocket/_native.abi3.so" 2>&1 |
      sed -n 's/^Error relocating [^:]*: \([^:]*\): symbol not found$/\1/p' | grep -v '^_\{0,1\}Py' || true)"
    [[ -z "$unresolved" ]] ||
      { log "musl's loader cannot resolve: $unresolved"; rm -rf "$tmp"; return 1; }
    log "$(basename "$wheel"): musl's loader resolves every symbol but the interpreter's"
  fi
  rm -rf "$tmp"
}

# build KIND POLICY MATURIN-ARGS...: one wheel into dist/, replacing the last of its kind.
build() {
  local policy="$1"
  shift
  tools
  mkdir -p "$dist"
  rm -f "$dist"/ferrosocket-*-"$policy"*.whl "$dist"/ferrosocket-*."$policy"*.whl
  local out
  out="$(mktemp -d)"
  local start=$SECONDS
  (cd "$here" && maturin build --profile "$profile" --zig --strip --quiet -o "$out" "$@")
  local wheel
  wheel="$(ls "$out"/ferrosocket-*.whl)"
  mv "$wheel" "$dist/"
  rmdir "$out"
  log "built $(basename "$wheel") in $((SECONDS - start)) s"
  check "$dist/$(basename "$wheel")" "$policy"
}

case "${1:-}" in
  wheel)
    build manylinux_2_17_x86_64 --compatibility manylinux2014 --target x86_64-unknown-linux-gnu
    ;;
  wheel-musl)
    if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
      log "rustup target add x86_64-unknown-linux-musl"
      rustup target add x86_64-unknown-linux-musl
    fi
    build musllinux_1_2_x86_64 --compatibility musllinux_1_2 --target x86_64-unknown-linux-musl
    ;;
  sdist)
    tools
    mkdir -p "$dist"
    rm -f "$dist"/ferrosocket-*.tar.gz
    (cd "$here" && maturin sdist -o "$dist")
    log "built $(cd "$dist" && ls ferrosocket-*.tar.gz)"
    ;;
  check)
    [[ $# -eq 2 ]] || usage
    tools
    case "$2" in
      *musllinux*) check "$2" musllinux_1_2_x86_64 ;;
      *) check "$2" manylinux_2_17_x86_64 ;;
    esac
    ;;
  *) usage ;;
esac
