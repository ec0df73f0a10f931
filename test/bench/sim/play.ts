/**
 * Plays one rollout of a world under a rule: hourly evaluation ticks over the 21-day
 * horizon, the arm of each run decided by the real bucketing at the stage of that moment.
 * The depcanary player feeds the REAL decide() (public import) with each arm's aggregate kept
 * run by run (ArmAccumulator: the numbers aggregateArm gives over the store's machine-days,
 * property-tested, in O(days) per evaluation instead of O(machine-days)).
 */
import { percentToBasisPoints } from '../../../server/domain/bucketing';
import { ArmAccumulator, dayNumber, decide } from '../../../server/domain/decision';
import type { RolloutEvidence } from '../../../server/domain/evidence';
import type { Policy } from '../../../server/domain/policy';
import { FLEET, HOURS, T0, type World } from './fleet';
import type { Scenario } from './scenarios';

const { min, floor } = Math;

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export type Outcome = 'rollback' | 'promoted' | 'hold';

export interface RolloutResult {
  outcome: Outcome;
  /** The rule that fired for depcanary ('hard_break' / 'regression' / 'advance'), or 'naive'. */
  rule: string | null;
  /** Hours from the start to the final decision (rollback or promotion), null if holding. */
  hours: number | null;
  /** Raw candidate runs (on C) until the final decision, or until the horizon. */
  candidateRuns: number;
  /** Runs on C until rollback, or until the horizon (promoted: the whole fleet runs C). */
  blast: number;
  /** Stage index at the end (stages.length − 1 when promoted). */
  stage: number;
  /** depcanary only: the frozen q0, and the rule of the last evaluation (why it holds). */
  q0?: number | null;
  lastRule?: string;
  lastReason?: string;
}

/** 0 pass, 1 fail, 2 error. */
function outcomeOf(w: World, s: Scenario, e: number, onC: boolean): 0 | 1 | 2 {
  if (w.kind[e] !== 0) return 1;
  const u = w.u[e]!;
  const base = w.q[w.machine[e]!]!;
  let p = base;
  if (onC) {
    switch (s.effect.kind) {
      case 'hard':
        return 2;
      case 'times':
        p = min(1, base * s.effect.factor);
        break;
      case 'plus':
        p = min(1, base + s.effect.points);
        break;
      case 'none':
        break;
    }
  }
  if (u >= p) return 0;
  return u < p * FLEET.errorShare ? 2 : 1;
}

/**
 * q0 'history' (the server's path when the fleet has reported for a while): the rollout is
 * created with q0 = the fleet's capped failure rate over the week before. q0 'freeze' (the
 * server's fallback without enough history): the rollout starts without q0 and stores
 * decide()'s q0ToFreeze, the control's rate once the first stage has soaked.
 */
export type Q0Mode = 'freeze' | 'history';

export function playDepcanary(w: World, s: Scenario, policy: Policy, stages: number[], q0Mode: Q0Mode = 'history'): RolloutResult {
  const cand = new ArmAccumulator<number>(policy.cap);
  const ctrl = new ArmAccumulator<number>(policy.cap);
  const evidence: RolloutEvidence = {
    candidate: { machineDays: [], failingTests: [], aggregate: cand },
    control: { machineDays: [], failingTests: [], aggregate: ctrl },
    mismatched: 0, counted: 0, lastReportAt: null,
  };
  const day0 = dayNumber(new Date(T0).toISOString().slice(0, 10));
  const q0: number | null = q0Mode === 'history' ? w.historicalCappedRate : null;
  const rollout = { stages, stageIndex: 0, stageEnteredAt: T0, q0, policy, state: 'active' as const, frozen: false };
  let outcome = 'hold' as Outcome; // (assigned in evaluate(); the cast keeps TS from narrowing)
  let rule: string | null = null;
  let hours: number | null = null;
  let candidateRuns = 0;
  let blast = 0;
  let decidedRuns = -1;
  let lastRule = '';
  let lastReason = '';
  // the real rule of server/domain/bucketing.ts: candidate iff bucket < percent in basis points
  let limit = percentToBasisPoints(stages[0]!);

  const evaluate = (now: number): void => {
    const d = decide({ now, rollout, evidence });
    if (d.q0ToFreeze !== null) rollout.q0 = d.q0ToFreeze;
    // for a rollout stuck past max stage age, keep what blocks it
    lastRule = d.rule === 'max_stage_age' ? d.blockers.join('+') : d.rule;
    lastReason = d.reason;
    if (d.verdict === 'rollback') {
      outcome = 'rollback';
      rule = d.rule;
      hours = (now - T0) / HOUR_MS;
      decidedRuns = candidateRuns;
    } else if (d.verdict === 'advance') {
      rollout.stageIndex++;
      rollout.stageEnteredAt = now;
      limit = percentToBasisPoints(stages[rollout.stageIndex]!);
      if (rollout.stageIndex >= stages.length - 1) {
        outcome = 'promoted';
        rule = 'advance';
        hours = (now - T0) / HOUR_MS;
        decidedRuns = candidateRuns;
      }
    }
  };

  for (let h = 0; h < HOURS; h++) {
    const day = floor(h / 24);
    for (let e = w.hourStart[h]!; e < w.hourStart[h + 1]!; e++) {
      const m = w.machine[e]!;
      const onC = outcome === 'promoted' || (outcome === 'hold' && w.bucket[m]! < limit);
      const r = outcomeOf(w, s, e, onC);
      if (onC) {
        blast++;
        candidateRuns++;
      }
      if (outcome !== 'hold') continue;
      const at = T0 + w.minute[e]! * MINUTE_MS;
      (onC ? cand : ctrl).add(m, day0 + day, r === 0 ? 'pass' : r === 1 ? 'fail' : 'error');
      evidence.counted++;
      evidence.lastReportAt = at;
      // In the first stage a candidate report is rarer than a tick: evaluate after each one,
      // as the server's controller does (debounced, 500 ms after reports are counted).
      if (onC && rollout.stageIndex === 0) evaluate(at + MINUTE_MS);
    }
    if (outcome === 'hold') evaluate(T0 + (h + 1) * HOUR_MS);
  }
  return {
    outcome, rule, hours, candidateRuns: decidedRuns >= 0 ? decidedRuns : candidateRuns, blast, stage: rollout.stageIndex,
    q0: rollout.q0, lastRule, lastReason,
  };
}

/**
 * The naive threshold rule: each hour, the candidate's failure rate over the trailing
 * 24 h (raw runs, no capping) is compared with 2× the historical rate; a window without
 * candidate runs counts as a failed check, as Flagger counts "no data". Six failed checks
 * in a row roll back; otherwise the stage advances once its soak time has passed.
 */
export function playNaive(w: World, s: Scenario, policy: Policy, stages: number[]): RolloutResult {
  const ringRuns = new Int32Array(24);
  const ringFails = new Int32Array(24);
  let winRuns = 0;
  let winFails = 0;
  let streak = 0;
  let stageIndex = 0;
  let enteredHour = 0;
  let outcome: Outcome = 'hold';
  let hours: number | null = null;
  let candidateRuns = 0;
  let blast = 0;
  let decidedRuns = -1;
  const threshold = 2 * w.historicalRate;
  for (let h = 0; h < HOURS; h++) {
    const limit = percentToBasisPoints(stages[stageIndex]!);
    const slot = h % 24;
    winRuns -= ringRuns[slot]!;
    winFails -= ringFails[slot]!;
    let runs = 0;
    let fails = 0;
    for (let e = w.hourStart[h]!; e < w.hourStart[h + 1]!; e++) {
      const m = w.machine[e]!;
      const onC = outcome === 'promoted' || (outcome === 'hold' && w.bucket[m]! < limit);
      if (!onC) continue;
      blast++;
      candidateRuns++;
      runs++;
      if (outcomeOf(w, s, e, true) !== 0) fails++;
    }
    ringRuns[slot] = runs;
    ringFails[slot] = fails;
    winRuns += runs;
    winFails += fails;
    if (outcome !== 'hold') continue;
    const failed = winRuns === 0 || winFails / winRuns > threshold;
    streak = failed ? streak + 1 : 0;
    if (streak >= 6) {
      outcome = 'rollback';
      hours = h + 1;
      decidedRuns = candidateRuns;
    } else if ((h + 1 - enteredHour) * 3600 >= policy.stages[stageIndex]!.soakSeconds) {
      stageIndex++;
      enteredHour = h + 1;
      if (stageIndex >= stages.length - 1) {
        outcome = 'promoted';
        hours = h + 1;
        decidedRuns = candidateRuns;
      }
    }
  }
  return { outcome, rule: outcome === 'hold' ? null : 'naive', hours, candidateRuns: decidedRuns >= 0 ? decidedRuns : candidateRuns, blast, stage: stageIndex };
}
