#!/usr/bin/env bash
# `make mutation` (or `scripts/mutation.sh [shard ...]`): Stryker 8.x over server/domain/ with the
# unit tests (jest.mutation.config.js), one Stryker run per shard (scripts/mutation-areas.js:
# decision, segments, rollout, rest), 2 workers. Each shard has its own incremental file
# (var/stryker/<shard>.incremental.json: only mutants of changed code, or covered by changed
# tests, run again) and its own report (var/stryker/<shard>.report.json, HTML in
# test-output/mutation/<shard>.html), so an interrupted run keeps the shards it finished and a
# re-run resumes cheaply. Scores per area are printed and written to README.md; an area whose
# shards have not run shows as not run. Run times: README, "Mutation testing".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-node.sh
mkdir -p var/stryker test-output/mutation
shards=("$@")
[ ${#shards[@]} -gt 0 ] || read -r -a shards <<<"$(node scripts/mutation-areas.js names)"
for shard in "${shards[@]}"; do
  mutate=$(node scripts/mutation-areas.js mutate "$shard")
  echo "== mutation shard $shard: $mutate" >&2
  rm -f test-output/mutation/mutation.json
  start=$(date +%s)
  npx stryker run stryker.config.json --mutate "$mutate" --incrementalFile "var/stryker/$shard.incremental.json"
  mv test-output/mutation/mutation.json "var/stryker/$shard.report.json"
  mv test-output/mutation/index.html "test-output/mutation/$shard.html"
  echo "== mutation shard $shard: $(( $(date +%s) - start )) s" >&2
  node scripts/mutation-summary.js --write-readme
done
