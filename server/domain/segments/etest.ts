/**
 * The conditional test behind every segment (docs/decision.md, "Segments"): an e-value for
 * "events of this kind are no more likely on the candidate".
 *
 * An event is a machine's first occurrence of something in a segment (its first failure of
 * one test id; its first run in a project or on a Python that failed, or errored). A
 * machine's arm is a hash of its id and the rollout's salt: independent of how the machine
 * behaves. So if the candidate changes nothing for this segment, a machine with an event
 * in stage j is a candidate with probability p_j, the stage's share (basis points / 10,000),
 * independently of the other machines, whatever each machine's own flakiness.
 *
 * Against the alternative "the candidate multiplies the odds of the event by ρ", an event in
 * stage j is a candidate with θ = ρp/(1 − p + ρp): the likelihood ratio of one candidate
 * event is ρ/(1 − p + ρp) > 1, of one control event 1/(1 − p + ρp) < 1, each with mean 1
 * under the null. Their running product is a test martingale for every ρ, and so is any
 * mixture of them with weights summing to 1: by Ville's inequality it ever reaches 1/α
 * with probability at most α, however often it is looked at. The product does not depend
 * on the order of the events, so per-stage counts suffice.
 */
export interface Mixture {
  /** Odds ratios ρ > 1. */
  rho: readonly number[];
  /** Weights, same length, non-negative, summing to at most 1. */
  weight: readonly number[];
}

/**
 * Signatures: tests are mostly solid-pass or solid-fail, so most of the weight is on the
 * candidate breaking a test outright (ρ = 10⁴: at p = 1%, 99% of events on the candidate).
 */
export const SIGNATURE_MIXTURE: Mixture = { rho: [1e4, 1e3, 100, 10, 3], weight: [0.5, 0.15, 0.15, 0.1, 0.1] };

/**
 * Projects and Pythons: a first run that fails has a baseline of a few percent, one that
 * errors of well under one, so the effect of a break on the odds is 10–1,000×: spread evenly.
 */
export const SEGMENT_MIXTURE: Mixture = { rho: [3000, 1000, 300, 100, 30, 10, 3], weight: [1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7] };

export interface StageEvents {
  /** Candidate events per stage index. */
  candidate: readonly number[];
  /** Control events per stage index. */
  control: readonly number[];
}

const LOG10 = Math.log(10);
const INF = Number.POSITIVE_INFINITY;

/**
 * log10 of the mixture e-value. `shares[j]` is the candidate share of stage j in (0, 1);
 * stages without a share strictly between 0 and 1 (the 100% stage) carry no information
 * and are skipped. 0 (e = 1) without events.
 */
export function log10EValue(events: StageEvents, shares: readonly number[], mixture: Mixture): number {
  return eValuer(shares, mixture)(events);
}

/**
 * The same, with the logarithms of the mixture at these shares computed once: the decision
 * evaluates hundreds of segments at the same shares.
 */
export function eValuer(shares: readonly number[], mixture: Mixture): (events: StageEvents) => number {
  const R: { logW: number; logRho: number; logDen: number[] }[] = [];
  for (let r = 0; r < mixture.rho.length; r++) {
    const rho = mixture.rho[r]!;
    const w = mixture.weight[r]!;
    if (!(w > 0) || !(rho > 1)) continue;
    R.push({ logW: Math.log(w), logRho: Math.log(rho), logDen: shares.map((p) => (p > 0 && p < 1 ? Math.log(1 - p + rho * p) : NaN)) });
  }
  const n = shares.length;
  const logs = new Float64Array(R.length);
  return (events) => {
    if (R.length === 0) return Number.NEGATIVE_INFINITY;
    let best = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < R.length; r++) {
      const c = R[r]!;
      let l = c.logW;
      for (let j = 0; j < n; j++) {
        const den = c.logDen[j]!;
        if (den !== den) continue; // NaN: a stage at 0% or 100%
        const t = count(events.candidate[j]);
        const k = count(events.control[j]);
        if (t + k === 0) continue;
        l += t * c.logRho - (t + k) * den;
      }
      logs[r] = l;
      if (l > best) best = l;
    }
    let s = 0;
    for (let r = 0; r < R.length; r++) s += Math.exp(logs[r]! - best);
    return (best + Math.log(s)) / LOG10;
  };
}

function count(x: number | undefined): number {
  return x !== undefined && x > 0 && x < INF ? x : 0;
}

/** Σ of per-stage counts. */
export function total(xs: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x > 0 && x < INF) s += x;
  }
  return s;
}
