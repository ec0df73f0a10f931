#!/usr/bin/env bash
# Makes (or reuses) the venv for the plugin tests and prints its path:
#   - var/test-venv: pinned tox, pytest, ruff, mypy and python-subunit (the `ci` extra) from the
#     [venv] section of client-plugin/test-requirements.txt, rebuilt only when that file or
#     the Python version changes;
#   - depcanary-client installed into it from client-plugin/ (a real, non-editable install,
#     redone every time so the tests see the current source);
#   - var/test-venv-tox3: tox 3.28.0 with the plugin, to check what it does under tox 3;
#   - var/test-venv-uv: the same pins plus tox-uv (and its uv) with the plugin, for the tox-uv
#     tests (kept apart: with tox-uv installed every tox env would install with uv);
#   - var/plugin-wheelhouse: wheels of the [wheelhouse] section (pytest, stestr, pbr and what
#     they need), for the toy projects' tox envs, which install with --no-index (the toy
#     depcanary-fakelib wheels are built by the tests themselves).
# Idempotent; the only network use is PyPI, and only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${DEPCANARY_TEST_VENV:-var/test-venv}
wheelhouse=${DEPCANARY_TEST_WHEELHOUSE:-var/plugin-wheelhouse}
req=client-plugin/test-requirements.txt
python=${DEPCANARY_TEST_PYTHON:-python3}
# section NAME: the pins between "# [NAME]" and the next "# [" line
section() { awk -v want="# [$1]" 'index($0, "# [") == 1 { on = ($0 == want); next } on && /^[^#]/' "$req"; }

python3_ok() { "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; }
python3_ok || scripts/ensure-system.sh python >&2
key=$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.depcanary-key" 2>/dev/null)" != "$key" ]; then
  echo "test-env: creating $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  section venv > "$venv/requirements.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$venv/requirements.txt" >&2
  echo "$key" > "$venv/.depcanary-key"
fi

tox3="$venv-tox3"
if [ ! -x "$tox3/bin/python" ] || [ "$(cat "$tox3/.depcanary-key" 2>/dev/null)" != "$key" ]; then
  echo "test-env: creating $tox3" >&2
  rm -rf "$tox3"
  "$python" -m venv "$tox3"
  "$tox3/bin/python" -m pip install -q --disable-pip-version-check tox==3.28.0 >&2
  echo "$key" > "$tox3/.depcanary-key"
fi

uvvenv="$venv-uv"
if [ ! -x "$uvvenv/bin/python" ] || [ "$(cat "$uvvenv/.depcanary-key" 2>/dev/null)" != "$key" ]; then
  echo "test-env: creating $uvvenv" >&2
  rm -rf "$uvvenv"
  "$python" -m venv "$uvvenv"
  { section venv; section uv; } > "$uvvenv/requirements.txt"
  "$uvvenv/bin/python" -m pip install -q --disable-pip-version-check -r "$uvvenv/requirements.txt" >&2
  echo "$key" > "$uvvenv/.depcanary-key"
fi

if [ "$(cat "$wheelhouse/.depcanary-key" 2>/dev/null)" != "$key" ]; then
  echo "test-env: filling $wheelhouse" >&2
  rm -rf "$wheelhouse"
  mkdir -p "$wheelhouse"
  section wheelhouse > "$wheelhouse/requirements.txt"
  "$venv/bin/python" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
    -d "$wheelhouse" -r "$wheelhouse/requirements.txt" >&2
  echo "$key" > "$wheelhouse/.depcanary-key"
fi

dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
"$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
  -w "$dist" ./client-plugin >&2
for v in "$venv" "$tox3" "$uvvenv"; do
  "$v/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$dist"/*.whl >&2
done
rm -rf client-plugin/build
echo "$venv"
