import { marginFor } from '../policy';
import { TERMINAL_STATES } from '../rollout';
import { dataQualityAlarms, srmTest, srmWindowAfter } from './alarms';
import { halfWidth, tauFor } from './bound';
import { explain } from './explain';
import { binomialUpperTail } from './binomial';
import { aggregateArm, armVariance, floorRate, summarize } from './stats';
import { newInCandidate } from './tests';
import type { Decision, DecisionInput, DecisionRule, Verdict } from './types';

/** A regression rollback needs at least this many distinct candidate machines (DECISION.md). */
export const MIN_REGRESSION_MACHINES = 3;

/**
 * The decision rule of DECISION.md: advance, hold or roll back one rollout at one stage.
 * Pure: the clock is `input.now`, nothing is read or written elsewhere.
 *
 * Order: hard break → rollback; G_T ≥ 3 and D − h > 0 → rollback; advance when soak,
 * machines, runs, D + h < margin and no data-quality alarm all hold; hold otherwise.
 * A paused or frozen rollout is evaluated like an active one: the controller decides
 * whether to apply the verdict (it never applies an automatic advance to a paused rollout).
 *
 * q0 (the control failure rate when the rollout started) is frozen for the rollout. While
 * `rollout.q0` is null:
 *  - once the control arm has ≥ policy.minControlRuns capped runs and the first stage has
 *    soaked, its capped failure rate becomes q0 now: it is used for τ and the margin of
 *    this evaluation and returned as `q0ToFreeze` for the controller to store;
 *  - before that, advancing is impossible (no margin: rule 'no_q0'), but both rollbacks
 *    stay armed, because a candidate that breaks installs must not wait for the control
 *    arm to fill up. The hard break needs only the current control rate (< 50%). The
 *    regression bound uses τ = max(current control rate, 0.01) (0.01 with no control
 *    runs): the same formula as with a frozen q0, fed with the best estimate there is.
 *    Any τ gives a valid mixture bound; τ only decides at which effect size it is
 *    tightest, and q0 itself is estimated from the same control data, so this choice
 *    adds no dependence the frozen q0 does not have. The wide variance of a thin control
 *    arm (V_K, floored by q(1−q)/N_K) keeps this bound conservative.
 */
export function decide(input: DecisionInput): Decision {
  const { now, rollout, evidence } = input;
  const { policy, stages, stageIndex } = rollout;
  const percent = stages[stageIndex] ?? 0;
  const stageAgeSeconds = Math.max(0, (now - rollout.stageEnteredAt) / 1000);
  const stagePolicy = policy.stages[stageIndex];

  const window = srmWindowAfter(stageIndex, rollout.stageEnteredAt);
  const cand = aggregateArm(evidence.candidate, policy.cap, window);
  const ctrl = aggregateArm(evidence.control, policy.cap, window);
  const q = floorRate(ctrl);
  const VT = armVariance(cand, q);
  const VK = armVariance(ctrl, q);
  const pT = cand.N > 0 ? cand.F / cand.N : null;
  const pK = ctrl.N > 0 ? ctrl.F / ctrl.N : null;

  let q0 = rollout.q0;
  let q0ToFreeze: number | null = null;
  const soaked = stageAgeSeconds >= (stagePolicy?.soakSeconds ?? 0);
  // Fallback without fleet history: freeze q0 from the control once it has enough capped runs
  // AND the first stage has soaked. An advance needs the soak anyway, so waiting costs no
  // time, and a day or two of control data is far steadier than its first hour (which
  // broken-checkout machines, running many times an hour, bias upwards).
  if (q0 === null && pK !== null && ctrl.N >= policy.minControlRuns && (stageIndex > 0 || soaked)) {
    q0 = pK;
    q0ToFreeze = pK;
  }
  const tau = tauFor(q0 ?? pK);
  let D: number | null = null;
  let h: number | null = null;
  let hAdvance: number | null = null;
  if (pT !== null && pK !== null && VT !== null && VK !== null) {
    D = pT - pK;
    h = halfWidth(VT + VK, tau, policy.alpha);
    hAdvance = policy.advanceAlpha === policy.alpha ? h : halfWidth(VT + VK, tau, policy.advanceAlpha);
  }
  const margin = stagePolicy && q0 !== null ? marginFor(stagePolicy, q0) : null;
  const srm = srmTest(cand.windowMachines, ctrl.windowMachines, percent);
  const { alarms, alert } = dataQualityAlarms({ evidence, policy, controlCappedRuns: ctrl.N, srm, soaked });
  const ageExceeded = stageAgeSeconds >= policy.maxStageAgeSeconds;

  const active = !TERMINAL_STATES.has(rollout.state) && stageIndex < stages.length - 1 && stagePolicy !== undefined;
  let hardBreakP: number | null = null;
  let verdict: Verdict = 'hold';
  let rule: DecisionRule = 'not_active';
  const blockers: DecisionRule[] = [];
  if (active && stagePolicy) {
    const controlRate = pK ?? q0;
    if (
      cand.allFailing >= policy.hardBreakMinMachines &&
      2 * cand.allFailing >= cand.G &&
      controlRate !== null &&
      controlRate < 0.5
    ) {
      // Computed only when the spec's clause holds: that is rare outside a real break. The
      // per-machine rate is never below the known q0, nor, while the control is thin, below its
      // shrunken rate q: a first hour of 20 clean control runs must not make three single-run
      // failures look impossible at a 15% baseline.
      const thin = ctrl.N < policy.minControlRuns;
      const rate = Math.max(pK ?? 0, q0 ?? 0, thin && pK !== null ? q : 0);
      hardBreakP = binomialUpperTail(cand.allFailing, cand.G, Math.min(rate, 1));
    }
    const hardBreak = hardBreakP !== null && hardBreakP < policy.hardBreakPValue;
    if (hardBreak) {
      verdict = 'rollback';
      rule = 'hard_break';
    } else if (cand.G >= MIN_REGRESSION_MACHINES && D !== null && h !== null && D - h > 0) {
      verdict = 'rollback';
      rule = 'regression';
    } else {
      if (q0 === null) blockers.push('no_q0');
      if (alarms.length > 0) blockers.push('data_quality');
      if (stageAgeSeconds < stagePolicy.soakSeconds) blockers.push('insufficient_soak');
      if (cand.G < stagePolicy.minMachines) blockers.push('insufficient_machines');
      if (cand.N < stagePolicy.minRuns) blockers.push('insufficient_runs');
      if (margin === null || D === null || hAdvance === null || !(D + hAdvance < margin)) blockers.push('not_proven_non_inferior');
      if (blockers.length === 0) {
        verdict = 'advance';
        rule = 'advance';
      } else {
        rule = ageExceeded ? 'max_stage_age' : blockers[0]!;
      }
    }
  } else {
    q0ToFreeze = null;
  }

  const decision: Decision = {
    verdict,
    rule,
    reason: '',
    at: now,
    stageIndex,
    percent,
    stageAgeSeconds,
    candidate: summarize(cand, VT),
    control: summarize(ctrl, VK),
    D,
    h,
    hAdvance,
    lower: D !== null && h !== null ? D - h : null,
    upper: D !== null && hAdvance !== null ? D + hAdvance : null,
    margin,
    tau,
    q0,
    alpha: policy.alpha,
    advanceAlpha: policy.advanceAlpha,
    hardBreakP,
    blockers,
    alarms,
    alert: alert || (verdict === 'hold' && active && ageExceeded),
    newInCandidate: newInCandidate(evidence.candidate.failingTests, evidence.control.failingTests, cand.G, ctrl.G),
    q0ToFreeze,
  };
  decision.reason = explain(decision, {
    soakSeconds: stagePolicy?.soakSeconds ?? 0,
    minMachines: stagePolicy?.minMachines ?? 0,
    minRuns: stagePolicy?.minRuns ?? 0,
    maxStageAgeSeconds: policy.maxStageAgeSeconds,
    minControlRuns: policy.minControlRuns,
    state: rollout.state,
  });
  return decision;
}
