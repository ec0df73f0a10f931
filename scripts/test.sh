#!/usr/bin/env bash
# Installs what the tests need and runs all of them: unit + integration (real Redis).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system.sh redis chromium || exit 1
scripts/ensure-node.sh || exit 1
mkdir -p test-output
status=0
npx jest --ci --json --outputFile=test-output/jest.json "$@" || status=1
# --- client plugin (client-plugin/, test/plugin/; owner: client plugin) -------------------------
# ruff, then pytest with real tox/pip/pytest in var/test-venv against the real server. Any
# non-zero pytest exit fails the run, including 5 (no tests collected).
rm -f test-output/plugin.xml
if plugin_venv=$(client-plugin/scripts/test-env.sh); then
  "$plugin_venv/bin/ruff" check client-plugin test/plugin || status=1
  DEPCANARY_TEST_ENV_READY=1 "$plugin_venv/bin/python" -m pytest test/plugin -q \
    --junitxml=test-output/plugin.xml || status=1
else
  echo "test: could not make the plugin test venv (client-plugin/scripts/test-env.sh)" >&2
  status=1
fi
# --- end client plugin ---------------------------------------------------------------------------
node scripts/summary.js test-output/jest.json test-output/plugin.xml
exit $status
