import { marginFor } from '../policy';
import { TERMINAL_STATES } from '../rollout';
import { dataQualityAlarms, srmTest, srmWindowAfter } from './alarms';
import { advanceCheck, armsCheck, boundCheck, hardBreakCheck, q0Check, regressionCheck, rollbackSources, segmentsCheck } from './checks';
import { explain } from './explain';
import { summarize } from './stats';
import { newInCandidate } from './tests';
import type { Decision, DecisionInput, DecisionRule, Verdict } from './types';

export { MIN_REGRESSION_MACHINES } from './checks';

/**
 * The decision rule of DECISION.md: advance, hold or roll back one rollout at one stage.
 * Pure: the clock is `input.now`, nothing is read or written elsewhere. Each condition is a
 * named check of ./checks.ts returning data; this function orders them:
 *
 *   hard break → rollback; a segment fired → rollback; G_T ≥ 3 and D − h > 0 → rollback;
 *   each only when its failures come from policy.rollbackMinSources distinct sources, else
 *   hold with an alert (rollback_needs_sources: no single source decides, docs/trust.md);
 *   advance when soak, machines, runs, D + h < margin and no data-quality alarm all hold
 *   (and, for the step to the last stage, candidate evidence from policy.minSources sources);
 *   hold otherwise.
 *
 * A paused or frozen rollout is evaluated like an active one: the controller decides
 * whether to apply the verdict (it never applies an automatic advance to a paused rollout).
 * While `rollout.q0` is null both rollbacks stay armed (see q0Check and boundCheck): a
 * candidate that breaks installs must not wait for the control arm to fill up.
 */
export function decide(input: DecisionInput): Decision {
  const { now, rollout, evidence } = input;
  const { policy, stages, stageIndex } = rollout;
  const percent = stages[stageIndex] ?? 0;
  const stageAgeSeconds = Math.max(0, (now - rollout.stageEnteredAt) / 1000);
  const stagePolicy = policy.stages[stageIndex];
  const soaked = stageAgeSeconds >= (stagePolicy?.soakSeconds ?? 0);
  const active = !TERMINAL_STATES.has(rollout.state) && stageIndex < stages.length - 1 && stagePolicy !== undefined;

  const arms = armsCheck(evidence, policy.cap, srmWindowAfter(stageIndex, rollout.stageEnteredAt));
  const { q0, q0ToFreeze } = q0Check(rollout.q0, arms, policy, stageIndex, soaked);
  const bound = boundCheck(arms, q0, policy);
  const margin = stagePolicy && q0 !== null ? marginFor(stagePolicy, q0) : null;
  const srm = srmTest(arms.cand.windowMachines, arms.ctrl.windowMachines, percent);
  const { alarms, alert } = dataQualityAlarms({ evidence, policy, controlCappedRuns: arms.ctrl.N, srm, soaked });
  const segments = segmentsCheck(evidence, stages, policy);
  const ageExceeded = stageAgeSeconds >= policy.maxStageAgeSeconds;

  let hardBreakP: number | null = null;
  let verdict: Verdict = 'hold';
  let rule: DecisionRule = 'not_active';
  let blockers: DecisionRule[] = [];
  let held: Decision['held'] = null;
  if (active && stagePolicy) {
    const hardBreak = hardBreakCheck(arms, q0, policy);
    hardBreakP = hardBreak.p;
    const needed = policy.rollbackMinSources;
    const hardSources = rollbackSources(arms, 'hard_break');
    const regression = regressionCheck(arms, bound).fired;
    const regressionSources = rollbackSources(arms, 'regression');
    if (hardBreak.fired && hardSources >= needed) {
      verdict = 'rollback';
      rule = 'hard_break';
    } else if (segments?.fired) {
      verdict = 'rollback';
      rule = 'segment';
    } else if (regression && regressionSources >= needed) {
      verdict = 'rollback';
      rule = 'regression';
    } else if (hardBreak.fired || regression || segments?.held) {
      rule = 'rollback_needs_sources';
      held = hardBreak.fired ? { rule: 'hard_break', sources: hardSources, needed }
        : regression ? { rule: 'regression', sources: regressionSources, needed }
          : { rule: 'segment', sources: segments!.held!.candidateSources, needed };
    } else {
      const completing = stageIndex === stages.length - 2;
      blockers = advanceCheck({ q0, completing, minSources: policy.minSources, alarms, segments, stageAgeSeconds, stage: stagePolicy, arms, bound }).blockers;
      if (blockers.length === 0) {
        verdict = 'advance';
        rule = 'advance';
      } else {
        rule = ageExceeded ? 'max_stage_age' : blockers[0]!;
      }
    }
  }

  const decision: Decision = {
    verdict,
    rule,
    reason: '',
    at: now,
    stageIndex,
    percent,
    stageAgeSeconds,
    candidate: summarize(arms.cand, arms.VT),
    control: summarize(arms.ctrl, arms.VK),
    D: bound.D,
    h: bound.h,
    hAdvance: bound.hAdvance,
    lower: bound.lower,
    upper: bound.upper,
    margin,
    tau: bound.tau,
    q0,
    alpha: policy.alpha,
    runAlpha: bound.runAlpha,
    advanceAlpha: policy.advanceAlpha,
    hardBreakP,
    blockers,
    alarms,
    alert: alert || held !== null || (verdict === 'hold' && active && ageExceeded),
    newInCandidate: newInCandidate(evidence.candidate.failingTests, evidence.control.failingTests, arms.cand.G, arms.ctrl.G),
    segments,
    q0ToFreeze: active ? q0ToFreeze : null,
    held,
    sourceCapped: evidence.sourceCapped ?? 0,
  };
  decision.reason = explain(decision, {
    soakSeconds: stagePolicy?.soakSeconds ?? 0,
    minMachines: stagePolicy?.minMachines ?? 0,
    minRuns: stagePolicy?.minRuns ?? 0,
    maxStageAgeSeconds: policy.maxStageAgeSeconds,
    minControlRuns: policy.minControlRuns,
    minSources: policy.minSources,
    state: rollout.state,
  });
  return decision;
}
