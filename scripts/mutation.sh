#!/usr/bin/env bash
# `make mutation`, or `scripts/mutation.sh [shard ...] [-- stryker options]`: Stryker 8.x over
# server/domain/ with the unit tests (jest.mutation.config.js), one Stryker run per shard
# (scripts/mutation-areas.js: decision, segments, rollout, rest; default all four, in that
# order), 2 workers each (stryker.config.mjs). Each shard has its own incremental file
# (var/stryker/<shard>.incremental.json: only mutants of changed code, or covered by changed
# tests, run again) and its own report (var/stryker/<shard>.report.json, HTML in
# test-output/mutation/<shard>.html), so an interrupted run keeps the shards it finished, a
# re-run resumes cheaply, and two shards may run side by side (e.g. `-- --concurrency 1` each).
# After each shard the scores per area are printed and written to README.md; an area whose
# shards have not run shows as not run. Run times: README, "Mutation testing".
set -euo pipefail
cd "$(dirname "$0")/.."
shards=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shards+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#shards[@]} -gt 0 ] || read -r -a shards <<<"$(node scripts/mutation-areas.js names)"
for shard in "${shards[@]}"; do node scripts/mutation-areas.js mutate "$shard" >/dev/null; done
[ -d node_modules/@stryker-mutator/core ] || scripts/ensure-node.sh # `make mutation` has installed and built already
mkdir -p var/stryker test-output/mutation
for shard in "${shards[@]}"; do
  echo "== mutation shard $shard: $(node scripts/mutation-areas.js mutate "$shard")" >&2
  start=$(date +%s)
  DEPCANARY_MUTATION_SHARD=$shard npx stryker run stryker.config.mjs "$@"
  echo "== mutation shard $shard: $(( $(date +%s) - start )) s" >&2
  node scripts/mutation-summary.js --write-readme
done
