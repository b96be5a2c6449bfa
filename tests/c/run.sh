#!/usr/bin/env bash
# Builds libferrosocket, checks the committed header, builds the C tests twice (ASan+UBSan,
# and plain for Valgrind) and runs them against real python-socketio clients.
#   tests/c/run.sh              everything
#   NO_VALGRIND=1 tests/c/run.sh   skip the Valgrind pass
#   NO_BROWSER=1 tests/c/run.sh    skip the C chat under tests/browser (headless Chromium)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build -p ferrosocket-ffi
ffi/gen-header.sh --check

# The Python client: the repo-root .venv that tests/python/run.sh also uses.
LOG_TAG=c
. "$root/tests/lib/env.sh"
venv="$root/.venv"
ensure_venv "$venv" tests/python/requirements.txt
export FERROSOCKET_PYTHON="$venv/bin/python" FERROSOCKET_CLIENT="$here/client.py"

out="$root/target/c-tests"
mkdir -p "$out"
lib="$root/target/debug/libferrosocket.a"
libs=(-lpthread -ldl -lm)
tests=(test_api test_events test_concurrency test_shutdown test_extras test_namespace test_redis test_metrics test_admin)
ensure_redis
passed=0 failed=0

run() {
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); else log "FAILED: $name"; failed=$((failed + 1)); fi
}

for t in "${tests[@]}"; do
  gcc -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
    -fno-omit-frame-pointer -Iinclude "$here/$t.c" "$lib" "${libs[@]}" -o "$out/$t-asan"
  gcc -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Iinclude "$here/$t.c" "$lib" \
    "${libs[@]}" -o "$out/$t"
done

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
for t in "${tests[@]}"; do
  run "$t (asan)" "$out/$t-asan"
done
if [[ -z "${NO_VALGRIND:-}" ]]; then
  for t in "${tests[@]}"; do
    run "$t (valgrind)" valgrind --quiet --error-exitcode=1 --leak-check=full \
      --errors-for-leak-kinds=definite --show-possibly-lost=no "$out/$t"
  done
fi

# The C chat (examples/c_chat) under the browser test, built with ASan+UBSan: the test
# starts it as `chat --host 127.0.0.1 --port 0 --static DIR` and waits for LISTENING.
# Sanitizer reports go to files (the test only sees the exit), checked afterwards.
browser() {
  local chat="$out/c_chat-asan" reports="$out/c_chat-asan-report"
  gcc -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer \
    -Iinclude examples/c_chat/chat.c "$lib" "${libs[@]}" -o "$chat" || return 1
  rm -f "$reports".*
  ASAN_OPTIONS="detect_leaks=1:log_path=$reports" UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports" \
    BROWSER_TEST=chat.test.mjs FERROSOCKET_CHAT_SERVER="$chat" tests/browser/run.sh || return 1
  if compgen -G "$reports.*" >/dev/null; then
    cat "$reports".* >&2
    return 1
  fi
}
if [[ -z "${NO_BROWSER:-}" ]]; then
  run "c_chat under tests/browser (asan)" browser
fi
log "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
