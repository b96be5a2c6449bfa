#!/usr/bin/env bash
# The one way the test scripts (tests/*/run.sh) and the Makefile make a Python virtualenv
# and install npm packages: from the pinned requirements and the committed lock files, only
# when those changed since the last install (a stamp beside what was installed), never
# reading stdin. It installs; it never runs a test, and never touches a venv or a
# node_modules it was not named.
#
# Sourced by bash scripts:
#   LOG_TAG=python; . tests/lib/env.sh      # LOG_TAG names the suite in the log lines
#   ensure_venv DIR REQUIREMENTS...         # DIR/bin/python exists with these installed
#   fresh_venv DIR REQUIREMENTS...          # the same, into a newly made DIR
#   ensure_npm DIR                          # DIR/node_modules matches DIR/package-lock.json
#   ensure_redis                            # redis-server and redis-cli are on PATH
#   log MESSAGE...                          # "[LOG_TAG] MESSAGE" on stderr
# Or run, for make (whose recipes are sh): tests/lib/env.sh ensure_venv DIR REQUIREMENTS...
# (or ensure_redis: tests/support/redis_servers.py runs it so when redis-server is missing).

log() { printf '[%s] %s\n' "${LOG_TAG:-tests}" "$*" >&2; }

# sha256 over the requirement files' contents, in order: what the stamp records.
_requirements_digest() {
  cat "$@" | sha256sum | cut -d' ' -f1
}

# ensure_venv DIR REQUIREMENTS...: runs `python3 -m venv DIR` when DIR has no working
# interpreter, then `pip install -r` each file when their digest differs from the one the
# last successful install left in DIR/.ferrosocket-requirements.sha256.
ensure_venv() {
  local dir="$1"
  shift
  [[ $# -gt 0 ]] || { log "ensure_venv $dir: no requirements file named"; return 2; }
  local file
  for file in "$@"; do
    [[ -f "$file" ]] || { log "ensure_venv $dir: $file: no such file"; return 2; }
  done
  local stamp="$dir/.ferrosocket-requirements.sha256" digest
  if ! "$dir/bin/python" -c '' 2>/dev/null; then
    # A venv whose interpreter went away (python3 upgraded or removed) is remade empty:
    # its packages were for that interpreter. Anything else is left beside the new venv.
    local clear=()
    [[ -f "$dir/pyvenv.cfg" ]] && clear=(--clear)
    log "venv $dir: creating"
    python3 -m venv "${clear[@]}" "$dir" </dev/null
    rm -f "$stamp"
  fi
  digest="$(_requirements_digest "$@")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
    return 0
  fi
  log "venv $dir: pip install -r $*"
  local args=()
  for file in "$@"; do args+=(-r "$file"); done
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "${args[@]}" </dev/null
  printf '%s\n' "$digest" >"$stamp"
}

# fresh_venv DIR REQUIREMENTS...: ensure_venv into an empty DIR (what was in it is removed).
fresh_venv() {
  rm -rf "$1"
  ensure_venv "$@"
}

# ensure_npm DIR: `npm ci` in DIR when DIR/node_modules is missing or was installed from
# another package-lock.json than the one there now (compared by content, not by mtime: a
# checkout or a copy sets mtimes anyhow). The stamp is a copy of the lock file.
ensure_npm() {
  local dir="$1"
  local lock="$dir/package-lock.json" stamp="$dir/node_modules/.ferrosocket-lock-stamp"
  [[ -f "$lock" ]] || { log "ensure_npm $dir: no package-lock.json"; return 2; }
  if [[ -d "$dir/node_modules" ]] && cmp -s "$lock" "$stamp"; then
    return 0
  fi
  log "npm ci in $dir"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error </dev/null
  cp "$lock" "$stamp"
}

# ensure_redis: installs Debian's redis-server and redis-tools (redis-cli) with apt-get when
# either binary is missing, as the Makefile installs valgrind for test-c. The packaged
# service is not what the tests use (they start their own servers on free ports): a
# service the install may have started is left alone.
ensure_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return 0
  fi
  log "apt-get install redis-server redis-tools"
  apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools </dev/null
}

# Run as a program: the named function with its arguments (for make's sh recipes).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    ensure_venv | fresh_venv | ensure_npm | ensure_redis) "$@" ;;
    *) log "usage: $0 ensure_venv|fresh_venv DIR REQUIREMENTS... | ensure_npm DIR | ensure_redis"; exit 2 ;;
  esac
fi
