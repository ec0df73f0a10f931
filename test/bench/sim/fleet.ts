/**
 * One simulated world per rollout: the fleet (3,000 opted-in machines with skewed run rates
 * and per-machine flaky rates), every test run of the 21-day horizon as (minute, machine,
 * uniform draw, kind), and the fleet's failure rate over the 7 days before (the naive
 * rule's "historical rate"). Whether a run fails depends on the version it ran, which
 * depends on the rule being simulated; the draw u is shared, so both rules see the same
 * world (common random numbers): a run fails iff u < its failure probability.
 */
import { bucketOf, inCandidateArm } from '../../../server/domain/bucketing';
import { POLICY_DEFAULTS } from '../../../server/domain/policy';
import { Rng } from './rng';
import type { Scenario } from './scenarios';

const { min, exp, log, floor } = Math;

export const FLEET = {
  machines: 3000,
  /** Runs per machine per day ~ Poisson(λ_m), λ_m log-normal with this mean (skewed). */
  meanRunsPerDay: 1.5,
  rateSigma: 1.0,
  /** Per-machine flaky rate ~ Beta(mean = baseline, α + β = κ). */
  flakyKappa: 40,
  /** Share of ordinary failures that are set-up errors rather than test failures. */
  errorShare: 0.1,
  /** Broken checkouts: 0.5% of machines per week, ~50 failing runs within 12 h. */
  episodePerMachineWeek: 0.005,
  episodeRunsMin: 40,
  episodeRunsMax: 60,
  episodeHours: 12,
  days: 21,
  preDays: 7,
  spamRuns: 50,
  /** Another library B's bad candidate: parked at this percent, failure rate × factor. */
  otherPercent: 10,
  otherFactor: 2,
} as const;

export const HOURS = FLEET.days * 24;
/** The rollout starts at midnight UTC of this day (ms); the fleet's history is the week before. */
export const T0 = Date.UTC(2025, 0, 6);
export const MINUTES = HOURS * 60;

/** Event kinds. */
export const NORMAL = 0;
export const EPISODE = 1;
export const SPAM = 2;

/** Random v4-style machine ids (fixed for the fleet; buckets differ by rollout salt). */
function machineIds(): string[] {
  const rng = new Rng(0x5eed1d5);
  const hex = (n: number) => Array.from({ length: n }, () => rng.int(16).toString(16)).join('');
  return Array.from({ length: FLEET.machines }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`);
}
export const MACHINE_IDS: readonly string[] = machineIds();
/** RANK[m] = position of machine m's id in sorted order. */
export const RANK: Int32Array = (() => {
  const order = MACHINE_IDS.map((_, i) => i).sort((a, b) => (MACHINE_IDS[a]! < MACHINE_IDS[b]! ? -1 : 1));
  const rank = new Int32Array(order.length);
  order.forEach((m, r) => (rank[m] = r));
  return rank;
})();

export interface World {
  ids: readonly string[];
  /** L's bucket of each machine (the real bucketOf with this rollout's salt). */
  bucket: Int32Array;
  /** Per-machine failure probability on the stable version (incl. library B's effect). */
  q: Float64Array;
  /** Events in time order; those of hour h are [hourStart[h], hourStart[h+1]). */
  hourStart: Int32Array;
  /** Minute of the horizon (0 .. 21·24·60 − 1) of each event. */
  minute: Int32Array;
  machine: Int32Array;
  u: Float64Array;
  kind: Uint8Array;
  events: number;
  /** Raw failure rate of the whole fleet over the week before the rollout (naive rule). */
  historicalRate: number;
  /** The same week's capped failure rate (the rule's p over all machines): a q0 known at creation. */
  historicalCappedRate: number;
}

class Buf {
  minute = new Int32Array(1 << 17);
  machine = new Int32Array(1 << 17);
  u = new Float64Array(1 << 17);
  kind = new Uint8Array(1 << 17);
  n = 0;
  push(minute: number, m: number, u: number, kind: number): void {
    if (this.n === this.minute.length) {
      const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as { new (n: number): T })(a.length * 2);
        b.set(a);
        return b;
      };
      this.minute = grow(this.minute);
      this.machine = grow(this.machine);
      this.u = grow(this.u);
      this.kind = grow(this.kind);
    }
    this.minute[this.n] = minute;
    this.machine[this.n] = m;
    this.u[this.n] = u;
    this.kind[this.n] = kind;
    this.n++;
  }
}

export function buildWorld(scenario: Scenario, salt: string, rng: Rng): World {
  const M = FLEET.machines;
  const bucket = new Int32Array(M);
  const q = new Float64Array(M);
  const mu = log(FLEET.meanRunsPerDay) - (FLEET.rateSigma * FLEET.rateSigma) / 2;
  const otherSalt = scenario.otherBad === 'shared' ? salt : `${salt}/B`;
  const buf = new Buf();
  let histRuns = 0;
  let histFails = 0;
  const pre = FLEET.preDays * 24;
  const episodeMean = (FLEET.episodePerMachineWeek * (FLEET.days + FLEET.preDays)) / 7;
  const preRuns = new Int32Array(FLEET.preDays);
  const preFails = new Int32Array(FLEET.preDays);
  let cappedN = 0;
  let cappedF = 0;
  for (let m = 0; m < M; m++) {
    const id = MACHINE_IDS[m]!;
    preRuns.fill(0);
    preFails.fill(0);
    bucket[m] = bucketOf(salt, id);
    let qm = rng.betaMean(scenario.baseline, FLEET.flakyKappa);
    if (scenario.otherBad && inCandidateArm(bucketOf(otherSalt, id), FLEET.otherPercent)) {
      qm = min(1, qm * FLEET.otherFactor);
    }
    q[m] = qm;
    const lambda = exp(mu + FLEET.rateSigma * rng.normal());
    for (let d = -FLEET.preDays; d < FLEET.days; d++) {
      const n = rng.poisson(lambda);
      for (let k = 0; k < n; k++) {
        const minute = d * 1440 + rng.int(1440);
        const u = rng.next();
        if (minute < 0) {
          histRuns++;
          preRuns[d + FLEET.preDays]!++;
          if (u < qm) {
            histFails++;
            preFails[d + FLEET.preDays]!++;
          }
        } else {
          buf.push(minute, m, u, NORMAL);
        }
      }
    }
    const episodes = rng.poisson(episodeMean);
    for (let e = 0; e < episodes; e++) {
      const start = (-pre + rng.int(pre + HOURS)) * 60 + rng.int(60);
      const runs = FLEET.episodeRunsMin + rng.int(FLEET.episodeRunsMax - FLEET.episodeRunsMin + 1);
      for (let k = 0; k < runs; k++) {
        const minute = start + rng.int(FLEET.episodeHours * 60);
        if (minute < 0) {
          histRuns++;
          histFails++;
          const pd = floor(minute / 1440) + FLEET.preDays;
          preRuns[pd]!++;
          preFails[pd]!++;
        } else if (minute < MINUTES) {
          buf.push(minute, m, 0, EPISODE);
        }
      }
    }
    for (let d = 0; d < FLEET.preDays; d++) {
      const n = preRuns[d]!;
      if (n === 0) continue;
      const w = min(n, POLICY_DEFAULTS.cap);
      cappedN += w;
      cappedF += (preFails[d]! * w) / n;
    }
  }
  if (scenario.spam) {
    const first: number[] = [];
    for (let m = 0; m < M; m++) if (bucket[m]! < 100) first.push(m);
    if (first.length > 0) {
      const m = first[rng.int(first.length)]!;
      const start = rng.int(23 * 60);
      for (let k = 0; k < FLEET.spamRuns; k++) buf.push(start + rng.int(60), m, 0, SPAM);
    }
  }
  // counting sort by minute
  const at = new Int32Array(MINUTES + 1);
  for (let i = 0; i < buf.n; i++) at[buf.minute[i]! + 1]!++;
  for (let t = 0; t < MINUTES; t++) at[t + 1]! += at[t]!;
  const hourStart = new Int32Array(HOURS + 1);
  for (let h = 0; h <= HOURS; h++) hourStart[h] = at[h * 60]!;
  const pos = at.slice(0, MINUTES);
  const minute = new Int32Array(buf.n);
  const machine = new Int32Array(buf.n);
  const u = new Float64Array(buf.n);
  const kind = new Uint8Array(buf.n);
  for (let i = 0; i < buf.n; i++) {
    const j = pos[buf.minute[i]!]!++;
    minute[j] = buf.minute[i]!;
    machine[j] = buf.machine[i]!;
    u[j] = buf.u[i]!;
    kind[j] = buf.kind[i]!;
  }
  return {
    ids: MACHINE_IDS, bucket, q, hourStart, minute, machine, u, kind, events: buf.n,
    historicalRate: histRuns > 0 ? histFails / histRuns : scenario.baseline,
    historicalCappedRate: cappedN > 0 ? cappedF / cappedN : scenario.baseline,
  };
}
