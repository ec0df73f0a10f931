#!/usr/bin/env bash
# Installs what the tests need and runs all of them: unit + integration (real Redis).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system.sh redis || exit 1
scripts/ensure-node.sh || exit 1
mkdir -p test-output
status=0
npx jest --ci --json --outputFile=test-output/jest.json "$@" || status=1
node scripts/summary.js test-output/jest.json
exit $status
