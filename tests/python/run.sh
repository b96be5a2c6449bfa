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

set +e
"$venv/bin/python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$here" "$@" </dev/null
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "tests/python: pytest collected no tests" >&2
  exit 1
fi
exit $rc
