#!/usr/bin/env bash
# Runs the Python end-to-end suite against target/debug/test-server (or $FERROSOCKET_TEST_SERVER).
# Uses the repo-root virtualenv .venv, (re)installing requirements only when they changed.
# Extra arguments are passed to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.ferrosocket-tests-python-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$here/requirements.txt" </dev/null
  cp "$here/requirements.txt" "$stamp"
fi

# The node reference server that test_upgrade_races.py runs side by side with ferrosocket
# (socket.io pinned in reference/package-lock.json). Without node those runs are skipped.
ref="$here/reference"
ref_stamp="$ref/node_modules/.ferrosocket-lock-stamp"
if command -v npm >/dev/null && { [[ ! -f "$ref_stamp" ]] || ! cmp -s "$ref/package-lock.json" "$ref_stamp"; }; then
  npm ci --prefix "$ref" --no-audit --no-fund --loglevel=error </dev/null
  cp "$ref/package-lock.json" "$ref_stamp"
fi

set +e
"$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$here" "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "tests/python: pytest collected no tests" >&2
  exit 1
fi
exit $rc
