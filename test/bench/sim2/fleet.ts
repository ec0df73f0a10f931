/**
 * The structured fleet of simulation v2 (DECISION.md, "The simulation, v2"; the model and
 * its numbers are documented in docs/decision.md):
 *  - 30 consumer projects with Zipf shares (1/k) of the CI jobs; 300 test ids each, with a
 *    heavy-tailed per-id flaky rate (90% never fail, 8% fail 0.01–0.1% of runs, 2% 0.1–1%),
 *    a per-project flakiness factor, two co-failing clusters of 8 ids per project, and
 *    set-up errors without test ids;
 *  - 4,000 developer machines (1–3 projects, 1–2 Pythons, log-normal run rates, a per-machine
 *    flakiness factor, occasional broken checkouts) and 16,000 CI jobs a day, each with a
 *    fresh machine id (as single-use CI nodes report), one project and one Python;
 *  - Python 3.10 / 3.11 / 3.12 / 3.13 on 15 / 35 / 35 / 15% of the runs.
 * Days are generated lazily, in order, and cached, so both rules play the same world.
 * Every run carries its own seed: its failures are a deterministic function of the seed and
 * of the version it ran (common random numbers), see outcome.ts.
 */
import { Rng } from '../sim/rng';
import type { Scenario2 } from './scenarios';

const { exp, log, floor, min } = Math;

export const FLEET2 = {
  projects: 30,
  testsPerProject: 300,
  devMachines: 4000,
  devMeanRunsPerDay: 1.0,
  devRateSigma: 1.0,
  ciJobsPerDay: 16_000,
  pythons: ['3.10', '3.11', '3.12', '3.13'],
  pythonShare: [0.15, 0.35, 0.35, 0.15],
  /** Per-id flaky rate per run: share never failing, share in the low band, the rest in the high band. */
  flakyNever: 0.9,
  flakyLow: 0.08,
  lowBand: [1e-4, 1e-3] as const,
  highBand: [1e-3, 1e-2] as const,
  projectFactorSigma: 0.5,
  /** Developer machines' flakiness factor ~ Gamma(shape, mean 1). */
  devFactorShape: 2,
  clustersPerProject: 2,
  clusterSize: 8,
  clusterRate: 0.002,
  setupErrorRate: 0.003,
  /** Broken checkouts (developer machines): per machine-week, runs, hours, ids failing. */
  episodePerMachineWeek: 0.005,
  episodeRunsMin: 40,
  episodeRunsMax: 60,
  episodeHours: 12,
  episodeIds: 20,
  days: 21,
  /** Days simulated before the rollout (the fleet history: q0 and the naive rule's rate). */
  preDays: 1,
} as const;

export const HOURS2 = FLEET2.days * 24;
export const T0_2 = Date.UTC(2025, 0, 6);

/** Event kinds. */
export const K_NORMAL = 0;
export const K_EPISODE = 1;
export const K_SPAM = 2;
export const K_CLUSTER = 3;
export const K_FAKE = 4;

/** An invented test id (the fake machines' replayed report): index past the project's real ids. */
export const INVENTED_TEST = FLEET2.testsPerProject;

export interface ProjectModel {
  /** Alias table over the flaky ids, by rate. */
  aliasId: Int32Array;
  aliasProb: Float64Array;
  aliasIdx: Int32Array;
  /** Σ flaky rates (× the project factor): expected failing ids per run. */
  rate: number;
  /** Ids that never fail on their own (candidates for a broken id). */
  solid: Int32Array;
  clusters: Int32Array[];
}

export interface Day2 {
  n: number;
  /** Minute of the day of each event, sorted. */
  minute: Int16Array;
  /** Developer machine index ≥ 0, or −1 − serial for a single-run identity (CI job, fake machine). */
  mach: Int32Array;
  bucket: Int16Array;
  /** Library B's bucket (trap other-bad). */
  bBucket: Int16Array;
  project: Uint8Array;
  python: Uint8Array;
  kind: Uint8Array;
  seed: Int32Array;
  /** First event of each hour: events of hour h are [hourStart[h], hourStart[h+1]). */
  hourStart: Int32Array;
}

export interface World2 {
  scenario: Scenario2;
  projects: ProjectModel[];
  /** Share of CI jobs per project (Zipf), and its alias table. */
  share: Float64Array;
  projAliasProb: Float64Array;
  projAliasIdx: Int32Array;
  dev: {
    bucket: Int16Array;
    bBucket: Int16Array;
    factor: Float64Array;
    lambda: Float64Array;
    projects: Uint8Array; // 3 per machine
    nProjects: Uint8Array;
    pythons: Uint8Array; // 2 per machine
    nPythons: Uint8Array;
    /** Broken-checkout episodes: start minute (from the rollout start) and run count, −1 when none. */
    episodeStart: Int32Array;
    episodeRuns: Int32Array;
  };
  /** The traps' machines / projects / ids (for the scenario's trap). */
  trap: { machine: number; project: number; ids: Int32Array; hour: number };
  rng: Rng;
  days: Day2[];
  serial: number;
  /** Fleet history (the pre-days): raw failure rate (naive rule) and capped rate (q0). */
  historicalRate: number;
  historicalCappedRate: number;
}

function alias(weights: ArrayLike<number>): { prob: Float64Array; idx: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i]!;
  const prob = new Float64Array(n);
  const idx = new Int32Array(n);
  const scaled = Array.from({ length: n }, (_, i) => (weights[i]! * n) / total);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large.pop()!;
    prob[s] = scaled[s]!;
    idx[s] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    (scaled[l]! < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) {
    prob[i] = 1;
    idx[i] = i;
  }
  return { prob, idx };
}

export function pickAlias(prob: Float64Array, idx: Int32Array, u: number): number {
  const n = prob.length;
  const x = u * n;
  const i = floor(x);
  return x - i < prob[i]! ? i : idx[i]!;
}

function logUniform(rng: Rng, [a, b]: readonly [number, number]): number {
  return exp(log(a) + rng.next() * (log(b) - log(a)));
}

function projectModel(rng: Rng): ProjectModel {
  const T = FLEET2.testsPerProject;
  const factor = exp(FLEET2.projectFactorSigma * rng.normal() - (FLEET2.projectFactorSigma ** 2) / 2);
  const ids: number[] = [];
  const rates: number[] = [];
  const solid: number[] = [];
  for (let t = 0; t < T; t++) {
    const u = rng.next();
    if (u < FLEET2.flakyNever) {
      solid.push(t);
      continue;
    }
    const r = (u < FLEET2.flakyNever + FLEET2.flakyLow ? logUniform(rng, FLEET2.lowBand) : logUniform(rng, FLEET2.highBand)) * factor;
    ids.push(t);
    rates.push(r);
  }
  const a = alias(rates);
  const clusters: Int32Array[] = [];
  for (let c = 0; c < FLEET2.clustersPerProject; c++) {
    const members = new Set<number>();
    while (members.size < FLEET2.clusterSize) members.add(rng.int(T));
    clusters.push(Int32Array.from(members));
  }
  return {
    aliasId: Int32Array.from(ids), aliasProb: a.prob, aliasIdx: a.idx, rate: rates.reduce((s, r) => s + r, 0),
    solid: Int32Array.from(solid), clusters,
  };
}

/** Gamma(shape) with mean 1. */
function gammaMean1(rng: Rng, shape: number): number {
  return rng.gamma(shape) / shape;
}

export function buildWorld2(scenario: Scenario2, rng: Rng): World2 {
  const P = FLEET2.projects;
  const projects = Array.from({ length: P }, () => projectModel(rng));
  const share = new Float64Array(P);
  for (let k = 0; k < P; k++) share[k] = 1 / (k + 1);
  const sum = share.reduce((s, x) => s + x, 0);
  for (let k = 0; k < P; k++) share[k]! /= sum;
  const pa = alias(share);
  const M = FLEET2.devMachines;
  const dev = {
    bucket: new Int16Array(M), bBucket: new Int16Array(M), factor: new Float64Array(M), lambda: new Float64Array(M),
    projects: new Uint8Array(3 * M), nProjects: new Uint8Array(M), pythons: new Uint8Array(2 * M), nPythons: new Uint8Array(M),
    episodeStart: new Int32Array(M).fill(-1), episodeRuns: new Int32Array(M),
  };
  const pyAlias = alias(FLEET2.pythonShare);
  const mu = log(FLEET2.devMeanRunsPerDay) - (FLEET2.devRateSigma ** 2) / 2;
  const totalMinutes = (FLEET2.days + FLEET2.preDays) * 1440;
  const episodeMean = (FLEET2.episodePerMachineWeek * (FLEET2.days + FLEET2.preDays)) / 7;
  for (let m = 0; m < M; m++) {
    dev.bucket[m] = rng.int(10_000);
    dev.bBucket[m] = rng.int(10_000);
    dev.factor[m] = gammaMean1(rng, FLEET2.devFactorShape);
    dev.lambda[m] = exp(mu + FLEET2.devRateSigma * rng.normal());
    const np = 1 + rng.int(3);
    let got = 0;
    for (let tries = 0; got < np && tries < 20; tries++) {
      const k = pickAlias(pa.prob, pa.idx, rng.next());
      let dup = false;
      for (let j = 0; j < got; j++) if (dev.projects[3 * m + j] === k) dup = true;
      if (!dup) dev.projects[3 * m + got++] = k;
    }
    dev.nProjects[m] = got;
    const ny = 1 + rng.int(2);
    dev.pythons[2 * m] = pickAlias(pyAlias.prob, pyAlias.idx, rng.next());
    dev.pythons[2 * m + 1] = pickAlias(pyAlias.prob, pyAlias.idx, rng.next());
    dev.nPythons[m] = ny === 2 && dev.pythons[2 * m + 1] !== dev.pythons[2 * m] ? 2 : 1;
    if (rng.poisson(episodeMean) > 0) {
      dev.episodeStart[m] = rng.int(totalMinutes) - FLEET2.preDays * 1440;
      dev.episodeRuns[m] = FLEET2.episodeRunsMin + rng.int(FLEET2.episodeRunsMax - FLEET2.episodeRunsMin + 1);
    }
  }
  const w: World2 = {
    scenario, projects, share, projAliasProb: pa.prob, projAliasIdx: pa.idx, dev,
    trap: trapOf(scenario, dev, projects, rng), rng, days: [], serial: 0, historicalRate: 0, historicalCappedRate: 0,
  };
  return w;
}

function trapOf(s: Scenario2, dev: World2['dev'], projects: ProjectModel[], rng: Rng): World2['trap'] {
  const pickIds = (k: number, n: number) => {
    const solid = projects[k]!.solid;
    const out = new Set<number>();
    while (out.size < min(n, solid.length)) out.add(solid[rng.int(solid.length)]!);
    return Int32Array.from(out);
  };
  const candidateMachine = () => {
    const first: number[] = [];
    for (let m = 0; m < dev.bucket.length; m++) if (dev.bucket[m]! < 100) first.push(m);
    return first.length ? first[rng.int(first.length)]! : 0;
  };
  switch (s.trap) {
    case 'flaky-id':
      return { machine: -1, project: 0, ids: pickIds(0, 1), hour: -1 };
    case 'cluster-machine': {
      const m = candidateMachine();
      return { machine: m, project: dev.projects[3 * m]!, ids: pickIds(dev.projects[3 * m]!, 12), hour: 24 + rng.int(24) };
    }
    case 'spam': {
      const m = candidateMachine();
      return { machine: m, project: dev.projects[3 * m]!, ids: pickIds(dev.projects[3 * m]!, 5), hour: 24 + rng.int(24) };
    }
    case 'bad-commit':
      return { machine: -1, project: 2, ids: pickIds(2, 3), hour: 24 };
    case 'other-bad':
      return { machine: -1, project: 5, ids: pickIds(5, 2), hour: -1 };
    case 'fake':
      return { machine: -1, project: 3, ids: Int32Array.of(INVENTED_TEST), hour: 24 + rng.int(24) };
    default: {
      // the broken ids of a regression scenario (solid-pass ids of the affected projects)
      const e = s.effect;
      if (e.kind === 'break-project') return { machine: -1, project: e.project, ids: pickIds(e.project, e.ids), hour: -1 };
      if (e.kind === 'partial') {
        const ids: number[] = [];
        for (const k of e.projects) ids.push(...pickIds(k, e.ids));
        return { machine: -1, project: -1, ids: Int32Array.from(ids), hour: -1 };
      }
      return { machine: -1, project: -1, ids: new Int32Array(0), hour: -1 };
    }
  }
}

class DayBuf {
  n = 0;
  cap = 1 << 15;
  minute = new Int16Array(this.cap);
  mach = new Int32Array(this.cap);
  bucket = new Int16Array(this.cap);
  bBucket = new Int16Array(this.cap);
  project = new Uint8Array(this.cap);
  python = new Uint8Array(this.cap);
  kind = new Uint8Array(this.cap);
  seed = new Int32Array(this.cap);
  push(minute: number, mach: number, bucket: number, bBucket: number, project: number, python: number, kind: number, seed: number): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.minute[i] = minute;
    this.mach[i] = mach;
    this.bucket[i] = bucket;
    this.bBucket[i] = bBucket;
    this.project[i] = project;
    this.python[i] = python;
    this.kind[i] = kind;
    this.seed[i] = seed;
  }
  private grow(): void {
    this.cap *= 2;
    const g = <T extends Int16Array | Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(this.cap);
      b.set(a);
      return b;
    };
    this.minute = g(this.minute);
    this.mach = g(this.mach);
    this.bucket = g(this.bucket);
    this.bBucket = g(this.bBucket);
    this.project = g(this.project);
    this.python = g(this.python);
    this.kind = g(this.kind);
    this.seed = g(this.seed);
  }
}

/** Day d (0 = the rollout's first day; −1 … −preDays the history), generated in order and cached. */
export function day2(w: World2, d: number): Day2 {
  const i = d + FLEET2.preDays;
  while (w.days.length <= i) w.days.push(generateDay(w, w.days.length - FLEET2.preDays));
  return w.days[i]!;
}

function generateDay(w: World2, d: number): Day2 {
  const { rng, dev } = w;
  const buf = new DayBuf();
  const seed = () => (rng.next() * 4294967296) | 0;
  const pyAlias = PY_ALIAS;
  const M = FLEET2.devMachines;
  for (let m = 0; m < M; m++) {
    const n = rng.poisson(dev.lambda[m]!);
    for (let k = 0; k < n; k++) {
      const p = dev.projects[3 * m + rng.int(dev.nProjects[m]!)]!;
      const y = dev.pythons[2 * m + rng.int(dev.nPythons[m]!)]!;
      buf.push(rng.int(1440), m, dev.bucket[m]!, dev.bBucket[m]!, p, y, K_NORMAL, seed());
    }
    const es = dev.episodeStart[m]!;
    if (es >= 0 && es < (d + 1) * 1440 && es + FLEET2.episodeHours * 60 > d * 1440) {
      // the episode's runs spread evenly over its hours; only this day's share
      const runs = dev.episodeRuns[m]!;
      for (let k = 0; k < runs; k++) {
        const at = es + floor(((k + 0.5) * FLEET2.episodeHours * 60) / runs);
        if (at >= d * 1440 && at < (d + 1) * 1440) {
          buf.push(at - d * 1440, m, dev.bucket[m]!, dev.bBucket[m]!, dev.projects[3 * m]!, dev.pythons[2 * m]!, K_EPISODE, m);
        }
      }
    }
  }
  const jobs = rng.poisson(FLEET2.ciJobsPerDay);
  for (let k = 0; k < jobs; k++) {
    const p = pickAlias(w.projAliasProb, w.projAliasIdx, rng.next());
    const y = pickAlias(pyAlias.prob, pyAlias.idx, rng.next());
    buf.push(rng.int(1440), -1 - w.serial++, rng.int(10_000), rng.int(10_000), p, y, K_NORMAL, seed());
  }
  const t = w.trap;
  if (t.hour >= 0 && floor(t.hour / 24) === d) {
    const start = (t.hour % 24) * 60;
    const m = t.machine;
    if (w.scenario.trap === 'spam' || w.scenario.trap === 'cluster-machine') {
      const runs = w.scenario.trap === 'spam' ? 50 : 12;
      const kind = w.scenario.trap === 'spam' ? K_SPAM : K_CLUSTER;
      for (let k = 0; k < runs; k++) buf.push(start + rng.int(60), m, dev.bucket[m]!, dev.bBucket[m]!, t.project, dev.pythons[2 * m]!, kind, 0);
    } else if (w.scenario.trap === 'fake') {
      for (let k = 0; k < 30; k++) {
        buf.push(start + rng.int(60), -1 - w.serial++, rng.int(10_000), rng.int(10_000), t.project, 1, K_FAKE, 0);
      }
    }
  }
  return sortDay(buf);
}

const PY_ALIAS = alias(FLEET2.pythonShare);

function sortDay(b: DayBuf): Day2 {
  const n = b.n;
  const at = new Int32Array(1441);
  for (let i = 0; i < n; i++) at[b.minute[i]! + 1]!++;
  for (let t = 0; t < 1440; t++) at[t + 1]! += at[t]!;
  const hourStart = new Int32Array(25);
  for (let h = 0; h <= 24; h++) hourStart[h] = at[h * 60]!;
  const pos = at.slice(0, 1440);
  const out: Day2 = {
    n, minute: new Int16Array(n), mach: new Int32Array(n), bucket: new Int16Array(n), bBucket: new Int16Array(n),
    project: new Uint8Array(n), python: new Uint8Array(n), kind: new Uint8Array(n), seed: new Int32Array(n), hourStart,
  };
  for (let i = 0; i < n; i++) {
    const j = pos[b.minute[i]!]!++;
    out.minute[j] = b.minute[i]!;
    out.mach[j] = b.mach[i]!;
    out.bucket[j] = b.bucket[i]!;
    out.bBucket[j] = b.bBucket[i]!;
    out.project[j] = b.project[i]!;
    out.python[j] = b.python[i]!;
    out.kind[j] = b.kind[i]!;
    out.seed[j] = b.seed[i]!;
  }
  return out;
}

/** Expected runs per hour (for the blast radius after a promotion). */
export function runsPerHour(): number {
  return (FLEET2.devMachines * FLEET2.devMeanRunsPerDay + FLEET2.ciJobsPerDay) / 24;
}

