#!/usr/bin/env bash
# `make bench`: the load benchmark (pins vs a bare node:http baseline, report ingestion) and
# the decision-rule simulations (1,000 seeded rollouts per scenario, depcanary vs the naive
# rule): v1, the fleet as one population, and v2, a fleet of projects, Pythons and tests
# (segments). Both print their tables and rewrite their sections of README.md. Bounded: the
# load runs 4 × 3 runs of BENCH_SECONDS (10) on loopback; the evidence bench ~35 min (2 × 1M
# machine-days through ingest.lua, 300k reports through the API); the scale bench ~25 min (4 × 2 × 3
# runs of BENCH_SECONDS, 2 × 3 of the store alone, then 100k machines against 500 live rollouts,
# ~15 min of it); the simulations take ~25–35 min (v1)
# and ~25–35 min (v2, ~0.1–0.3 s of CPU per rollout) on 2 otherwise idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench: load (pins, reports)" >&2
node dist/test/bench/load.js --seconds "${BENCH_SECONDS:-10}" --rounds "${BENCH_ROUNDS:-3}" --write-readme
echo "bench: evidence (evaluation at 10k/100k/1M machine-days, ingestion while a rollout fills up)" >&2
nice node dist/test/bench/evidence.js --write-readme
echo "bench: scale (1 vs 40 live rollouts, 1 vs 3 replicas, memory with 500 rollouts and 100k machines)" >&2
node dist/test/bench/scale.js --seconds "${BENCH_SECONDS:-10}" --rounds "${BENCH_ROUNDS:-3}" --write-readme
echo "bench: decision rule simulation" >&2
nice node dist/test/bench/decision-sim.js --rollouts "${BENCH_ROLLOUTS:-1000}" --seed 1 --workers 2 --suite all --write-readme
