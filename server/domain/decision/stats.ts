import type { ArmEvidence, MachineDay } from '../evidence';
import type { ArmSummary } from './types';

// Builtins bound once: this pass runs per report, and under a vm context (jest) every global
// lookup inside the loop goes through the context's interceptor.
const { min, max } = Math;
const INF = Number.POSITIVE_INFINITY;

/**
 * Per-machine capped counts (DECISION.md, "Data per rollout"). For machine m and UTC day d
 * with n runs and f = failures + errors: w = min(n, cap), N_m = Σ_d w, F_m = Σ_d f·w/n.
 * One machine therefore weighs at most `cap` runs a day however much it reports, and a
 * day's failure share is kept. The arm keeps the sums the variance needs (Σ F_c², Σ F_c·N_c,
 * Σ N_c²) over its clusters, so no per-machine table outlives the pass.
 *
 * Clusters are report sources (docs/trust.md): the machines of one source (an enrolment's
 * address block, a reporter token) are one cluster, N_c = Σ N_m and F_c = Σ F_m over them,
 * because their runs are not independent evidence; a machine without a source is its own
 * cluster (and its own source), which is the per-machine rule as before.
 */
export interface ArmAggregate {
  N: number;
  F: number;
  /** Machines with N_m > 0. */
  G: number;
  sumFF: number;
  sumFN: number;
  sumNN: number;
  runs: number;
  failures: number;
  errors: number;
  /** Machines with runs whose every run failed or errored. */
  allFailing: number;
  /** Machines with runs on a day after `windowAfter` (every day when it is null). */
  windowMachines: number;
  /** Clusters of the variance (sources; a machine without one is its own); G when absent. */
  clusters?: number;
  /** Distinct sources with runs (a machine without a source counts as one); G when absent. */
  sources?: number;
  /** Distinct sources with a failed or errored run. */
  failingSources?: number;
  /** Distinct sources with a machine whose every run failed or errored; allFailing when absent. */
  allFailingSources?: number;
}

/** Counts are non-negative and finite; anything else counts as 0. */
function count(x: number): number {
  return x > 0 && x < INF ? x : 0;
}

interface Cluster { N: number; F: number; failing: boolean; allFailing: boolean }

class Acc {
  N = 0; F = 0; G = 0; sumFF = 0; sumFN = 0; sumNN = 0;
  runs = 0; failures = 0; errors = 0; allFailing = 0; windowMachines = 0;
  /** Machines without a source: each its own cluster. */
  private alone = 0; private aloneFailing = 0; private aloneAllFailing = 0;
  private readonly bySource = new Map<string, Cluster>();

  /** Adds one machine's totals. */
  machine(nm: number, fm: number, raw: number, bad: number, inWindow: boolean, source: string | undefined): void {
    if (!(nm > 0)) return;
    this.G++;
    this.N += nm;
    this.F += fm;
    const all = bad >= raw;
    if (all) this.allFailing++;
    if (inWindow) this.windowMachines++;
    if (source === undefined) {
      this.sumFF += fm * fm;
      this.sumFN += fm * nm;
      this.sumNN += nm * nm;
      this.alone++;
      if (bad > 0) this.aloneFailing++;
      if (all) this.aloneAllFailing++;
      return;
    }
    let c = this.bySource.get(source);
    if (!c) this.bySource.set(source, (c = { N: 0, F: 0, failing: false, allFailing: false }));
    c.N += nm;
    c.F += fm;
    c.failing ||= bad > 0;
    c.allFailing ||= all;
  }

  result(): ArmAggregate {
    let { sumFF, sumFN, sumNN } = this;
    let failingSources = this.aloneFailing;
    let allFailingSources = this.aloneAllFailing;
    for (const c of this.bySource.values()) {
      sumFF += c.F * c.F;
      sumFN += c.F * c.N;
      sumNN += c.N * c.N;
      if (c.failing) failingSources++;
      if (c.allFailing) allFailingSources++;
    }
    const clusters = this.alone + this.bySource.size;
    const { N, F, G, runs, failures, errors, allFailing, windowMachines } = this;
    return {
      N, F, G, sumFF, sumFN, sumNN, runs, failures, errors, allFailing, windowMachines,
      clusters, sources: clusters, failingSources, allFailingSources,
    };
  }
}

/**
 * Aggregates one arm. `windowAfter` (a UTC day, YYYY-MM-DD) selects the days counted in
 * `windowMachines` for the sample-ratio test. Evidence sorted by machine (as a store can
 * hand it) is grouped in one pass without a hash map; on the first entry out of order the
 * pass starts over with a map, so any order gives the same result.
 */
export function aggregateArm(arm: ArmEvidence, cap: number, windowAfter: string | null = null): ArmAggregate {
  return sortedPass(arm.machineDays, cap, windowAfter) ?? mapPass(arm.machineDays, cap, windowAfter);
}

function sortedPass(days: readonly MachineDay[], cap: number, windowAfter: string | null): ArmAggregate | null {
  const acc = new Acc();
  let runs = 0, failures = 0, errors = 0;
  let last = '';
  let nm = 0, fm = 0, raw = 0, bad = 0;
  let win = false;
  let src: string | undefined;
  for (let k = 0; k < days.length; k++) {
    const md = days[k]!;
    const machine = md.machine;
    if (machine !== last || k === 0) {
      if (k > 0) {
        if (machine < last) return null;
        acc.machine(nm, fm, raw, bad, win, src);
      }
      last = machine;
      nm = fm = raw = bad = 0;
      win = false;
      src = undefined;
    }
    if (md.source) src = md.source;
    const n = count(md.runs);
    const fl = count(md.failures);
    const er = count(md.errors);
    runs += n;
    failures += fl;
    errors += er;
    if (n === 0) continue;
    const f = min(fl + er, n);
    const w = min(n, cap);
    nm += w;
    fm += (f * w) / n;
    raw += n;
    bad += f;
    if (!win && (windowAfter === null || md.day > windowAfter)) win = true;
  }
  if (days.length > 0) acc.machine(nm, fm, raw, bad, win, src);
  acc.runs = runs;
  acc.failures = failures;
  acc.errors = errors;
  return acc.result();
}

function mapPass(days: readonly MachineDay[], cap: number, windowAfter: string | null): ArmAggregate {
  const acc = new Acc();
  const per = new Map<string, { nm: number; fm: number; raw: number; bad: number; win: boolean; src: string | undefined }>();
  for (const md of days) {
    let m = per.get(md.machine);
    if (!m) per.set(md.machine, (m = { nm: 0, fm: 0, raw: 0, bad: 0, win: false, src: undefined }));
    if (md.source) m.src = md.source;
    const n = count(md.runs);
    const fl = count(md.failures);
    const er = count(md.errors);
    acc.runs += n;
    acc.failures += fl;
    acc.errors += er;
    if (n === 0) continue;
    const f = min(fl + er, n);
    const w = min(n, cap);
    m.nm += w;
    m.fm += (f * w) / n;
    m.raw += n;
    m.bad += f;
    if (windowAfter === null || md.day > windowAfter) m.win = true;
  }
  for (const m of per.values()) acc.machine(m.nm, m.fm, m.raw, m.bad, m.win, m.src);
  return acc.result();
}

/**
 * V_a = max( C/(C−1) · Σ_c (F_c − p·N_c)² / N² ,  q(1−q)/N ), q = (F_K+1)/(N_K+2) taken from
 * the control arm for both arms, over the C clusters (sources; machines without one), with
 * Σ (F_c − p·N_c)² = ΣF² − 2p·ΣFN + p²·ΣN². With a single cluster there is no spread between
 * clusters to measure; the cluster term is then 0 and the binomial floor alone applies.
 * Returns null without runs.
 */
export function armVariance(a: ArmAggregate, q: number): number | null {
  if (!(a.N > 0)) return null;
  const p = a.F / a.N;
  const ss = max(0, a.sumFF - 2 * p * a.sumFN + p * p * a.sumNN);
  const C = a.clusters ?? a.G;
  const cluster = C >= 2 ? ((C / (C - 1)) * ss) / (a.N * a.N) : 0;
  return max(cluster, (q * (1 - q)) / a.N);
}

/** The shrunken control rate used by the binomial floor. */
export function floorRate(control: ArmAggregate): number {
  return (control.F + 1) / (control.N + 2);
}

export function summarize(a: ArmAggregate, V: number | null): ArmSummary {
  return {
    N: a.N,
    F: a.F,
    G: a.G,
    p: a.N > 0 ? a.F / a.N : null,
    V,
    runs: a.runs,
    failures: a.failures,
    errors: a.errors,
    machines: a.G,
    allFailingMachines: a.allFailing,
    sources: a.sources ?? a.G,
    failingSources: a.failingSources ?? 0,
  };
}
