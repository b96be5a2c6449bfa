#!/usr/bin/env bash
# The installed C library, used as a C user would: `make install` into a temporary prefix,
# then examples/c_chat/chat.c built through pkg-config against the installed files only,
# once shared and once fully static, each run and driven by python-socketio clients
# (tests/dist/chat_client.py); the versions of the .pc, the installed header and the
# installed library compared with the crate's; DESTDIR staging; then `make uninstall`.
#   tests/dist/c_install.sh          (also: tests/dist/run.sh c, and make test-dist)
#   FERROSOCKET_TEST_PYTHON=/path/to/python tests/dist/c_install.sh
#       a python with python-socketio[client]; without it, the repo-root .venv that
#       tests/c/run.sh and tests/python/run.sh use, made from tests/python/requirements.txt
#       (not target/pybinding-venv: tests/pybinding/run.sh remakes that one from scratch).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
LOG_TAG=c-install
. "$root/tests/lib/env.sh"

if [[ -n "${FERROSOCKET_TEST_PYTHON:-}" ]]; then
  python="$FERROSOCKET_TEST_PYTHON"
else
  ensure_venv "$root/.venv" tests/python/requirements.txt
  python="$root/.venv/bin/python"
fi
"$python" -c 'import socketio' || { log "$python has no python-socketio"; exit 1; }

prefix="$(mktemp -d)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$prefix" "$work"
}
trap cleanup EXIT

fail() { log "FAILED: $*"; exit 1; }

# The crate version, read independently of ffi/install.sh (JSON parsed by python).
crate_version="$(cargo metadata --no-deps --format-version 1 | "$python" -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "ferrosocket-ffi"))')"
log "crate version $crate_version; installing into $prefix"

make --no-print-directory install PREFIX="$prefix"

lib="$prefix/lib"
for f in "$prefix/include/ferrosocket.h" "$lib/libferrosocket.a" "$lib/libferrosocket.so.$crate_version" \
  "$lib/pkgconfig/ferrosocket.pc"; do
  [[ -f "$f" && ! -L "$f" ]] || fail "not installed as a file: $f"
done
[[ "$(readlink "$lib/libferrosocket.so.0")" == "libferrosocket.so.$crate_version" ]] || fail "libferrosocket.so.0 link"
[[ "$(readlink "$lib/libferrosocket.so")" == "libferrosocket.so.0" ]] || fail "libferrosocket.so link"
readelf -d "$lib/libferrosocket.so.$crate_version" | grep -q 'Library soname: \[libferrosocket.so.0\]' \
  || fail "the installed shared library has no soname libferrosocket.so.0"
if readelf -S "$lib/libferrosocket.so.$crate_version" | grep -q '\.debug_'; then fail "the .so has debug sections"; fi
if readelf -S "$lib/libferrosocket.a" 2>/dev/null | grep -q '\.debug_info'; then fail "the .a has debug info"; fi

export PKG_CONFIG_PATH="$lib/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
[[ "$(pkg-config --modversion ferrosocket)" == "$crate_version" ]] \
  || fail "ferrosocket.pc Version $(pkg-config --modversion ferrosocket) != crate $crate_version"
cflags="$(pkg-config --cflags ferrosocket)"
[[ "$cflags" == *"-I$prefix/include"* && "$cflags" != *"$root"* ]] || fail "pkg-config --cflags: $cflags"

# Compiles with pkg-config flags only, and checks (cc -H) that ferrosocket.h came from the
# prefix: chat.c includes "ferrosocket.h", and the repo's include/ is on no search path.
build() {
  local out="$1" pcflags="$2" src="$3"
  shift 3
  # shellcheck disable=SC2086 # pkg-config output is a list of flags
  cc -std=c11 -O2 -Wall -Wextra -Werror -H "$src" $(pkg-config $pcflags --cflags --libs ferrosocket) "$@" \
    -o "$out" 2>"$out.log" || { cat "$out.log" >&2; fail "compiling $out"; }
  local included
  included="$(grep -E '^\.+ .*ferrosocket\.h$' "$out.log" | head -n1 | sed 's/^\.* //')"
  [[ "$included" == "$prefix/include/ferrosocket.h" ]] || fail "$out: ferrosocket.h from '$included', not the prefix"
}

# Starts a chat binary on a free port (--port 0: it prints LISTENING host:port), drives one
# round trip, then stops it by pid (SIGTERM) and checks that it exited 0.
round_trip() {
  local name="$1"
  shift
  "$@" --host 127.0.0.1 --port 0 --static examples/chat/static >"$work/$name.out" 2>"$work/$name.err" </dev/null &
  server_pid=$!
  local port="" i
  for ((i = 0; i < 100; i++)); do
    port="$(sed -n 's/^LISTENING 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/$name.out")"
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$name.err" >&2; fail "$name exited before LISTENING"; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { cat "$work/$name.err" >&2; fail "$name printed no LISTENING line in 10 s"; }
  log "$name listening on 127.0.0.1:$port (pid $server_pid)"
  "$python" "$here/chat_client.py" "$port" || { cat "$work/$name.err" >&2; fail "$name: chat round trip"; }
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  [[ $rc -eq 0 ]] || { cat "$work/$name.err" >&2; fail "$name exited with $rc after SIGTERM"; }
}

# Shared: NEEDs the soname, and resolves it to the prefix's copy.
build "$work/chat-shared" "" examples/c_chat/chat.c
readelf -d "$work/chat-shared" | grep -q 'NEEDED.*\[libferrosocket\.so\.0\]' || fail "chat-shared does not NEED libferrosocket.so.0"
LD_LIBRARY_PATH="$lib" ldd "$work/chat-shared" | grep -q "libferrosocket\.so\.0 => $lib/libferrosocket\.so\.0 " \
  || fail "chat-shared does not load the prefix's libferrosocket.so.0: $(LD_LIBRARY_PATH="$lib" ldd "$work/chat-shared")"
round_trip chat-shared env LD_LIBRARY_PATH="$lib" "$work/chat-shared"

# Static: `pkg-config --static` adds Libs.private; -static makes the whole executable static
# (glibc's linker warnings about getaddrinfo/getpwuid_r in static programs are expected:
# the chat binds a numeric address and never looks up a user).
build "$work/chat-static" --static examples/c_chat/chat.c -static
if readelf -d "$work/chat-static" | grep -q 'NEEDED'; then
  fail "chat-static needs shared libraries: $(readelf -d "$work/chat-static" | grep NEEDED)"
fi
readelf -lW "$work/chat-static" | grep -q 'INTERP' && fail "chat-static has a program interpreter (not static)"
round_trip chat-static env -u LD_LIBRARY_PATH "$work/chat-static"

# The installed header's FERROSOCKET_VERSION and the installed library's
# ferrosocket_version(), against the .pc and the crate.
cat >"$work/version.c" <<'EOF'
#include <stdio.h>
#include <ferrosocket.h>
int main(void) {
  printf("%s %s\n", FERROSOCKET_VERSION, ferrosocket_version());
  return 0;
}
EOF
build "$work/version" "" "$work/version.c"
read -r header_version library_version < <(LD_LIBRARY_PATH="$lib" "$work/version")
[[ "$header_version" == "$crate_version" ]] || fail "installed header says $header_version, crate $crate_version"
[[ "$library_version" == "$crate_version" ]] || fail "installed library says $library_version, crate $crate_version"
log "versions agree: .pc, header, library and crate are $crate_version"

# DESTDIR stages the files; the .pc keeps the final paths.
stage="$work/stage"
make --no-print-directory install PREFIX=/opt/ferrosocket DESTDIR="$stage" >/dev/null 2>&1 \
  || fail "make install DESTDIR=$stage"
[[ -f "$stage/opt/ferrosocket/lib/libferrosocket.so.$crate_version" && -f "$stage/opt/ferrosocket/include/ferrosocket.h" ]] \
  || fail "DESTDIR install: files not under $stage/opt/ferrosocket"
grep -qx 'prefix=/opt/ferrosocket' "$stage/opt/ferrosocket/lib/pkgconfig/ferrosocket.pc" || fail "DESTDIR leaked into the .pc"
make --no-print-directory uninstall PREFIX=/opt/ferrosocket DESTDIR="$stage" >/dev/null 2>&1
left="$(find "$stage" -name '*ferrosocket*' ! -path "$stage/opt/ferrosocket")"
[[ -z "$left" ]] || fail "DESTDIR uninstall left: $left"

# Uninstall: no ferrosocket file left in the prefix, and the emptied pkgconfig dir is gone.
make --no-print-directory uninstall PREFIX="$prefix"
left="$(find "$prefix" \( -name '*ferrosocket*' -o -name pkgconfig \))"
[[ -z "$left" ]] || fail "make uninstall left: $left"
log "passed"
