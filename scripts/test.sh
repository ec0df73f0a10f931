#!/usr/bin/env bash
# Installs what the tests need and runs all of them: unit + integration (real Redis).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system.sh redis chromium || exit 1
scripts/ensure-node.sh || exit 1
mkdir -p test-output
status=0
# The real package index the index tests start (devpi-server, var/index-venv; its `packaging`
# also cross-checks marker evaluation): made here once, so jest's workers only reuse it.
scripts/ensure-index-server.sh >/dev/null || status=1
npx jest --ci --json --outputFile=test-output/jest.json "$@" || status=1
# --- client plugin (client-plugin/, test/plugin/; owner: client plugin) -------------------------
# ruff (lint and format), mypy (strict), then pytest with real tox/pip/pytest in var/test-venv
# against the real server. Any non-zero pytest exit fails the run, including 5 (no tests collected).
rm -f test-output/plugin.xml
if plugin_venv=$(client-plugin/scripts/test-env.sh); then
  "$plugin_venv/bin/ruff" check client-plugin test/plugin || status=1
  "$plugin_venv/bin/ruff" format --check client-plugin test/plugin || status=1
  "$plugin_venv/bin/mypy" --cache-dir var/mypy-cache --config-file client-plugin/pyproject.toml client-plugin/src || status=1
  # A private --basetemp: pytest would otherwise clear old runs' dirs under the shared
  # /tmp/pytest-of-$USER (gigabytes of tox envs) before starting.
  plugin_tmp=$(mktemp -d "${TMPDIR:-/tmp}/depcanary-plugin-tests.XXXXXX")
  DEPCANARY_TEST_ENV_READY=1 "$plugin_venv/bin/python" -m pytest test/plugin -q \
    --basetemp="$plugin_tmp/t" --junitxml=test-output/plugin.xml || status=1
  rm -rf "$plugin_tmp"
else
  echo "test: could not make the plugin test venv (client-plugin/scripts/test-env.sh)" >&2
  status=1
fi
# --- end client plugin ---------------------------------------------------------------------------
# --- Gerrit proposals (server/gerrit/, test/gerrit/; owner: Gerrit proposer) --------------------
# A real Gerrit 3.10 (scripts/ensure-gerrit.sh: downloaded once into ~/.m2, dev site in a temp
# dir, 127.0.0.1 on a free port), started once by jest.gerrit.config.js's global set-up and
# stopped by its teardown; the trap stops it too if this script is interrupted.
rm -f test-output/gerrit.json
gerrit_site=$(mktemp -d "${TMPDIR:-/tmp}/depcanary-gerrit-site.XXXXXX")
trap 'scripts/ensure-gerrit.sh stop "$gerrit_site" >/dev/null 2>&1; rm -rf "$gerrit_site" "$gerrit_site.init.log"' EXIT
trap 'exit 130' INT TERM
gerrit_t0=$SECONDS
if scripts/ensure-gerrit.sh fetch; then
  DEPCANARY_GERRIT_SITE="$gerrit_site" npx jest -c jest.gerrit.config.js --ci --json \
    --outputFile=test-output/gerrit.json || status=1
else
  echo "test: could not fetch Gerrit (scripts/ensure-gerrit.sh fetch)" >&2
  status=1
fi
scripts/ensure-gerrit.sh stop "$gerrit_site" >/dev/null 2>&1 || true
echo "test: Gerrit tests took $((SECONDS - gerrit_t0)) s" >&2
# --- end Gerrit proposals ------------------------------------------------------------------------
node scripts/summary.js test-output/jest.json test-output/plugin.xml test-output/gerrit.json
exit $status
