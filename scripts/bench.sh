#!/usr/bin/env bash
# `make bench`: the load benchmark (pins vs a bare node:http baseline, report ingestion) and
# the decision-rule simulation (1,000 seeded rollouts per scenario, depcanary vs the naive
# rule). Both print their tables and rewrite their sections of README.md. Bounded: the load
# runs 4 × 3 runs of BENCH_SECONDS (10) on loopback; the simulation takes ~25–35 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench: load (pins, reports)" >&2
node dist/test/bench/load.js --seconds "${BENCH_SECONDS:-10}" --rounds "${BENCH_ROUNDS:-3}" --write-readme
echo "bench: decision rule simulation" >&2
node dist/test/bench/decision-sim.js --rollouts "${BENCH_ROLLOUTS:-1000}" --seed 1 --workers 2 --write-readme
