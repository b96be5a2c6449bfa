#!/usr/bin/env bash
# Runs the Python end-to-end suite against target/debug/test-server (or $FERROSOCKET_TEST_SERVER).
# Uses the repo-root virtualenv .venv, (re)installing requirements only when they changed.
# Extra arguments are passed to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

LOG_TAG=python
. "$root/tests/lib/env.sh"
venv="$root/.venv"
ensure_venv "$venv" "$here/requirements.txt"

# The node reference server that test_upgrade_races.py runs side by side with ferrosocket
# (socket.io pinned in reference/package-lock.json). Without node those runs are skipped.
if command -v npm >/dev/null; then
  ensure_npm "$here/reference"
fi

set +e
"$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$here" "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  log "pytest collected no tests"
  exit 1
fi
exit $rc
