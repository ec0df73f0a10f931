import type { ArmEvidence } from '../evidence';
import type { ArmSummary } from './types';

/**
 * Per-machine capped counts (DECISION.md, "Data per rollout"). For machine m and UTC day d
 * with n runs and f = failures + errors: w = min(n, cap), N_m = Σ_d w, F_m = Σ_d f·w/n.
 * One machine therefore weighs at most `cap` runs a day however much it reports, and a
 * day's failure share is kept.
 */
export interface ArmAggregate {
  /** Per machine, in order of first appearance. */
  ids: string[];
  Nm: number[];
  Fm: number[];
  N: number;
  F: number;
  /** Machines with N_m > 0. */
  G: number;
  runs: number;
  failures: number;
  errors: number;
  /** Machines with runs whose every run failed or errored. */
  allFailing: number;
}

function nonNeg(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0;
}

export function aggregateArm(arm: ArmEvidence, cap: number): ArmAggregate {
  const index = new Map<string, number>();
  const ids: string[] = [];
  const Nm: number[] = [];
  const Fm: number[] = [];
  const rawRuns: number[] = [];
  const rawBad: number[] = [];
  let runs = 0;
  let failures = 0;
  let errors = 0;
  let last = '';
  let lastIdx = -1;
  for (const md of arm.machineDays) {
    const n = nonNeg(md.runs);
    const fl = nonNeg(md.failures);
    const er = nonNeg(md.errors);
    let i: number;
    if (lastIdx >= 0 && md.machine === last) {
      i = lastIdx;
    } else {
      const found = index.get(md.machine);
      if (found === undefined) {
        i = ids.length;
        index.set(md.machine, i);
        ids.push(md.machine);
        Nm.push(0);
        Fm.push(0);
        rawRuns.push(0);
        rawBad.push(0);
      } else {
        i = found;
      }
      last = md.machine;
      lastIdx = i;
    }
    runs += n;
    failures += fl;
    errors += er;
    if (n === 0) continue;
    const f = Math.min(fl + er, n);
    const w = Math.min(n, cap);
    Nm[i]! += w;
    Fm[i]! += (f * w) / n;
    rawRuns[i]! += n;
    rawBad[i]! += f;
  }
  let N = 0;
  let F = 0;
  let G = 0;
  let allFailing = 0;
  for (let i = 0; i < ids.length; i++) {
    const n = Nm[i]!;
    if (n > 0) {
      G++;
      N += n;
      F += Fm[i]!;
      if (rawBad[i]! >= rawRuns[i]!) allFailing++;
    }
  }
  return { ids, Nm, Fm, N, F, G, runs, failures, errors, allFailing };
}

/**
 * V_a = max( G/(G−1) · Σ_m (F_m − p·N_m)² / N² ,  q(1−q)/N ), q = (F_K+1)/(N_K+2) taken from
 * the control arm for both arms. With a single machine there is no between-machine
 * spread to measure; the cluster term is then 0 and the binomial floor alone applies.
 * Returns null without runs.
 */
export function armVariance(a: ArmAggregate, q: number): number | null {
  if (!(a.N > 0)) return null;
  const p = a.F / a.N;
  let ss = 0;
  for (let i = 0; i < a.Nm.length; i++) {
    const r = a.Fm[i]! - p * a.Nm[i]!;
    ss += r * r;
  }
  const cluster = a.G >= 2 ? ((a.G / (a.G - 1)) * ss) / (a.N * a.N) : 0;
  return Math.max(cluster, (q * (1 - q)) / a.N);
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
  };
}
