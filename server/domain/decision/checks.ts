import type { ArmEvidence, RolloutEvidence } from '../evidence';
import { marginFor, runLevelAlpha, type Policy, type StagePolicy } from '../policy';
import { segmentCheck, type SegmentCheckPolicy, type SegmentSummary } from '../segments';
import { binomialUpperTail } from './binomial';
import { halfWidth, tauFor } from './bound';
import { aggregateArm, armVariance, floorRate, type ArmAggregate } from './stats';
import type { DecisionRule } from './types';

/**
 * The named checks decide() runs, each a pure function returning data (docs/decision.md,
 * "Order of the verdicts"). decide.ts only orders them and assembles the Decision.
 */

/** A regression rollback needs at least this many distinct candidate machines (DECISION.md). */
export const MIN_REGRESSION_MACHINES = 3;

export interface ArmsCheck {
  cand: ArmAggregate;
  ctrl: ArmAggregate;
  /** Shrunken control rate (F_K + 1)/(N_K + 2) of the variance floor. */
  q: number;
  VT: number | null;
  VK: number | null;
  pT: number | null;
  pK: number | null;
}

/** Capped per-arm aggregates and variances; `window` selects the days of the sample-ratio test. */
export function armsCheck(evidence: RolloutEvidence, cap: number, window: string | null): ArmsCheck {
  const cand = armAggregate(evidence.candidate, cap, window);
  const ctrl = armAggregate(evidence.control, cap, window);
  const q = floorRate(ctrl);
  return {
    cand, ctrl, q,
    VT: armVariance(cand, q),
    VK: armVariance(ctrl, q),
    pT: cand.N > 0 ? cand.F / cand.N : null,
    pK: ctrl.N > 0 ? ctrl.F / ctrl.N : null,
  };
}

/** The arm's aggregate: kept as runs arrived (with the same cap), or computed from its machine-days. */
export function armAggregate(arm: ArmEvidence, cap: number, window: string | null): ArmAggregate {
  if (!arm.aggregate) return aggregateArm(arm, cap, window);
  if (arm.aggregate.cap !== cap) throw new RangeError(`the arm's aggregate was kept with cap ${arm.aggregate.cap}, the policy caps at ${cap}`);
  return arm.aggregate.aggregate(window);
}

export interface Q0Check {
  q0: number | null;
  q0ToFreeze: number | null;
}

/**
 * q0 is the rollout's frozen value; without one (no fleet history at creation) it is frozen
 * from the control once the control has minControlRuns capped runs and the first stage has
 * soaked (an advance waits for the soak anyway, and two days of control are far steadier
 * than the first hour).
 */
export function q0Check(stored: number | null, arms: ArmsCheck, policy: Policy, stageIndex: number, soaked: boolean): Q0Check {
  if (stored === null && arms.pK !== null && arms.ctrl.N >= policy.minControlRuns && (stageIndex > 0 || soaked)) {
    return { q0: arms.pK, q0ToFreeze: arms.pK };
  }
  return { q0: stored, q0ToFreeze: null };
}

export interface BoundCheck {
  tau: number;
  runAlpha: number;
  D: number | null;
  h: number | null;
  hAdvance: number | null;
  lower: number | null;
  upper: number | null;
}

/**
 * D = p_T − p_K with the always-valid half-widths: h at the run-level share of alpha (the
 * rollback), hAdvance at advanceAlpha (the advance). τ = max(q0, 0.01), or before q0 is
 * known max(current control rate, 0.01): any τ gives a valid bound, it only chooses the
 * effect size where the bound is tightest.
 */
export function boundCheck(arms: ArmsCheck, q0: number | null, policy: Policy): BoundCheck {
  const tau = tauFor(q0 ?? arms.pK);
  const alpha = runLevelAlpha(policy);
  const out: BoundCheck = { tau, runAlpha: alpha, D: null, h: null, hAdvance: null, lower: null, upper: null };
  if (arms.pT === null || arms.pK === null || arms.VT === null || arms.VK === null) return out;
  const V = arms.VT + arms.VK;
  out.D = arms.pT - arms.pK;
  out.h = halfWidth(V, tau, alpha);
  out.hAdvance = policy.advanceAlpha === alpha ? out.h : halfWidth(V, tau, policy.advanceAlpha);
  out.lower = out.D - out.h;
  out.upper = out.D + out.hAdvance;
  return out;
}

export interface HardBreakCheck {
  fired: boolean;
  /** P(Binomial(G_T, r) ≥ A) when the spec's clause holds, else null. */
  p: number | null;
}

/**
 * Hard break: at least hardBreakMinMachines candidate machines, and at least half of them,
 * failed or errored on every run while the control is below 50% — and that many is
 * improbable by chance: P(Binomial(G_T, r) ≥ A) < hardBreakPValue with r = max(p_K, q0, and
 * while the control is thin its shrunken rate q).
 */
export function hardBreakCheck(arms: ArmsCheck, q0: number | null, policy: Policy): HardBreakCheck {
  const { cand, ctrl, pK, q } = arms;
  const controlRate = pK ?? q0;
  if (!(cand.allFailing >= policy.hardBreakMinMachines && 2 * cand.allFailing >= cand.G && controlRate !== null && controlRate < 0.5)) {
    return { fired: false, p: null };
  }
  const thin = ctrl.N < policy.minControlRuns;
  const rate = Math.max(pK ?? 0, q0 ?? 0, thin && pK !== null ? q : 0);
  const p = binomialUpperTail(cand.allFailing, cand.G, Math.min(rate, 1));
  return { fired: p < policy.hardBreakPValue, p };
}

/** The segment tests' settings of a rollout's policy. */
export function segmentCheckPolicy(policy: Policy): SegmentCheckPolicy {
  return {
    project: policy.projectAlpha,
    python: policy.pythonAlpha,
    signature: policy.signatureAlpha,
    maxProjects: policy.maxProjects,
    maxPythons: policy.maxPythons,
    maxSignatures: policy.maxSignatures,
    segmentMinMachines: policy.segmentMinMachines,
    segmentMinSources: policy.rollbackMinSources,
    segmentHoldFactor: policy.segmentHoldFactor,
  };
}

/** The segment tests (server/domain/segments), null without segment evidence. */
export function segmentsCheck(evidence: RolloutEvidence, stages: readonly number[], policy: Policy): SegmentSummary | null {
  if (!evidence.segments) return null;
  return segmentCheck(evidence.segments, stages, policy.alpha, segmentCheckPolicy(policy));
}

/** Regression: at least MIN_REGRESSION_MACHINES candidate machines and D − h > 0. */
export function regressionCheck(arms: ArmsCheck, bound: BoundCheck): { fired: boolean } {
  return { fired: arms.cand.G >= MIN_REGRESSION_MACHINES && bound.lower !== null && bound.lower > 0 };
}

/**
 * No single source decides (docs/trust.md): the distinct sources an automatic rollback's
 * failures come from — all-failing machines' sources for a hard break, failing runs' for a
 * regression — against policy.rollbackMinSources.
 */
export function rollbackSources(arms: ArmsCheck, rule: 'hard_break' | 'regression'): number {
  const c = arms.cand;
  return rule === 'hard_break' ? (c.allFailingSources ?? c.allFailing) : (c.failingSources ?? c.G);
}

export interface AdvanceInput {
  q0: number | null;
  /** This advance completes the rollout (the step to its last stage): it needs minSources candidate sources. */
  completing: boolean;
  minSources: number;
  alarms: readonly string[];
  /** The segment check's result (a suspect segment holds the advance). */
  segments: SegmentSummary | null;
  stageAgeSeconds: number;
  stage: StagePolicy;
  arms: ArmsCheck;
  bound: BoundCheck;
}

/** Every advance condition not met, in the order of the rule (empty: advance). */
export function advanceCheck(x: AdvanceInput): { blockers: DecisionRule[]; margin: number | null } {
  const margin = x.q0 !== null ? marginFor(x.stage, x.q0) : null;
  const blockers: DecisionRule[] = [];
  if (x.q0 === null) blockers.push('no_q0');
  if (x.alarms.length > 0) blockers.push('data_quality');
  if (x.segments?.suspect) blockers.push('segment_suspect');
  if (x.stageAgeSeconds < x.stage.soakSeconds) blockers.push('insufficient_soak');
  if (x.arms.cand.G < x.stage.minMachines) blockers.push('insufficient_machines');
  if (x.arms.cand.N < x.stage.minRuns) blockers.push('insufficient_runs');
  if (x.completing && (x.arms.cand.sources ?? x.arms.cand.G) < x.minSources) blockers.push('insufficient_sources');
  if (margin === null || x.bound.upper === null || !(x.bound.upper < margin)) blockers.push('not_proven_non_inferior');
  return { blockers, margin };
}
