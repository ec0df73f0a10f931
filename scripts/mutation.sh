#!/usr/bin/env bash
# `make mutation`: Stryker 8.x over server/domain/ with the unit tests (jest.mutation.config.js),
# 2 workers, incremental (var/stryker/incremental.json: only mutants of changed code or tests
# are run again). Report: test-output/mutation/index.html; scores per area printed and written
# to README.md. A full run from scratch takes ~30-60 min on the shared 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-node.sh
mkdir -p var/stryker test-output/mutation
nice npx stryker run "$@"
node scripts/mutation-summary.js --write-readme
