#!/usr/bin/env bash
# Makes (or reuses) var/index-venv, the real package index the index tests start, and prints
# its path: devpi-server and its dependencies pinned in test/index/requirements.txt, rebuilt
# only when that file or the Python version changes. Idempotent; the only network use is
# PyPI, and only when the pins change. Concurrent callers wait for each other (flock).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${DEPCANARY_INDEX_VENV:-var/index-venv}
req=test/index/requirements.txt
python=${DEPCANARY_TEST_PYTHON:-python3}
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 || scripts/ensure-system.sh python >&2
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
key=$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/devpi-server" ] || [ "$(cat "$venv/.depcanary-key" 2>/dev/null)" != "$key" ]; then
  echo "ensure-index-server: creating $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  echo "$key" > "$venv/.depcanary-key"
fi
echo "$venv"
