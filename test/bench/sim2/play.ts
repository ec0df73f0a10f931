/**
 * Plays one v2 rollout under the real decide() (public import) with run-level and segment
 * evidence kept as the store keeps them, and under the naive rule over the same world.
 * Evaluations: after every hourly tick, and in the first stage after every candidate report
 * (the server's controller evaluates 500 ms after reports are counted).
 */
import { percentToBasisPoints } from '../../../server/domain/bucketing';
import { ArmAccumulator, decide } from '../../../server/domain/decision';
import type { RolloutEvidence } from '../../../server/domain/evidence';
import type { Policy } from '../../../server/domain/policy';
import type { RolloutResult } from '../sim/play';
import { FLEET2, HOURS2, T0_2, day2, runsPerHour, type Day2, type World2 } from './fleet';
import { newOutcome, outcome2 } from './outcome';
import { SimSegments, type SimMachine } from './segments';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export interface RolloutResult2 extends RolloutResult {
  /** Candidate runs of the affected segment until the final decision (or the horizon); null without one. */
  affectedRuns: number | null;
  /** Rolled back while still in the first stage. */
  firstStage: boolean;
}

export const SIM_NAMES = {
  project: (k: number) => `project-${String(k + 1).padStart(2, '0')}`,
  python: (y: number) => FLEET2.pythons[y]!,
  test: (k: number, id: number) => `project_${String(k + 1).padStart(2, '0')}.tests.test_${String(id).padStart(3, '0')}`,
};

function affectedOf(w: World2): ((d: Day2, e: number) => boolean) | null {
  const a = w.scenario.affected;
  if (!a) return null;
  if (a.python !== undefined) return (d, e) => d.python[e] === a.python;
  const set = new Set(a.projects ?? []);
  return (d, e) => set.has(d.project[e]!);
}

/** The fleet's history (the pre-days, every run on the stable): raw failure rate and capped rate. */
export function history2(w: World2): { raw: number; capped: number } {
  if (w.historicalCappedRate > 0) return { raw: w.historicalRate, capped: w.historicalCappedRate };
  const o = newOutcome();
  let runs = 0, fails = 0;
  const perDay = new Map<number, { n: number; f: number }>();
  let N = 0, F = 0;
  for (let d = -FLEET2.preDays; d < 0; d++) {
    const day = day2(w, d);
    perDay.clear();
    for (let e = 0; e < day.n; e++) {
      outcome2(w, day, d, e, false, o);
      runs++;
      const bad = o.result !== 0 ? 1 : 0;
      fails += bad;
      const m = day.mach[e]!;
      if (m < 0) {
        N += 1;
        F += bad;
      } else {
        const c = perDay.get(m) ?? { n: 0, f: 0 };
        c.n++;
        c.f += bad;
        perDay.set(m, c);
      }
    }
    for (const c of perDay.values()) {
      const wgt = Math.min(c.n, 5);
      N += wgt;
      F += (c.f * wgt) / c.n;
    }
  }
  w.historicalRate = runs > 0 ? fails / runs : 0;
  w.historicalCappedRate = N > 0 ? F / N : 0;
  return { raw: w.historicalRate, capped: w.historicalCappedRate };
}

const WHO: SimMachine = { m: 0, projectSlot: 0, pythonSlot: 0 };

/** The report's machine with its project / Python slots (one shared object: read before the next report). */
function slotOf(w: World2, m: number, project: number, python: number): SimMachine {
  WHO.m = m;
  WHO.projectSlot = 0;
  WHO.pythonSlot = 0;
  if (m < 0) return WHO;
  for (let j = 0; j < w.dev.nProjects[m]!; j++) if (w.dev.projects[3 * m + j] === project) WHO.projectSlot = j;
  WHO.pythonSlot = w.dev.pythons[2 * m + 1] === python && w.dev.pythons[2 * m] !== python ? 1 : 0;
  return WHO;
}

export function playDepcanary2(w: World2, policy: Policy, stages: number[]): RolloutResult2 {
  // The arms as aggregates kept run by run (the rule's aggregateArm over machine-days gives the
  // same numbers, property-tested; reading every machine-day at every evaluation would cost
  // O(machine-days) with 20,000 runs a day).
  const cand = new ArmAccumulator<number>(policy.cap);
  const ctrl = new ArmAccumulator<number>(policy.cap);
  const segments = new SimSegments(policy, stages.length, SIM_NAMES, FLEET2.devMachines);
  const evidence: RolloutEvidence = {
    candidate: { machineDays: [], failingTests: [], aggregate: cand },
    control: { machineDays: [], failingTests: [], aggregate: ctrl },
    mismatched: 0, counted: 0, lastReportAt: null, segments: segments.evidence,
  };
  const day0 = Math.floor(T0_2 / 86_400_000);
  const rollout = { stages, stageIndex: 0, stageEnteredAt: T0_2, q0: history2(w).capped as number | null, policy, state: 'active' as const, frozen: false };
  const affected = affectedOf(w);
  let outcome = 'hold' as 'hold' | 'rollback' | 'promoted';
  let rule: string | null = null;
  let hours: number | null = null;
  let candidateRuns = 0;
  let affectedRuns = 0;
  let blast = 0;
  let decidedRuns = -1;
  let decidedAffected = -1;
  let lastRule = '';
  let lastReason = '';
  let firstStage = false;
  let limit = percentToBasisPoints(stages[0]!);
  const o = newOutcome();

  const evaluate = (now: number): void => {
    const d = decide({ now, rollout, evidence });
    if (d.q0ToFreeze !== null) rollout.q0 = d.q0ToFreeze;
    lastRule = d.rule === 'max_stage_age' ? d.blockers.join('+') : d.rule;
    lastReason = d.reason;
    if (d.verdict === 'rollback') {
      outcome = 'rollback';
      rule = d.rule === 'segment' && d.segments?.fired ? `segment:${d.segments.fired.family}` : d.rule;
      hours = (now - T0_2) / HOUR_MS;
      decidedRuns = candidateRuns;
      decidedAffected = affectedRuns;
      firstStage = rollout.stageIndex === 0;
    } else if (d.verdict === 'advance') {
      rollout.stageIndex++;
      rollout.stageEnteredAt = now;
      limit = percentToBasisPoints(stages[rollout.stageIndex]!);
      if (rollout.stageIndex >= stages.length - 1) {
        outcome = 'promoted';
        rule = 'advance';
        hours = (now - T0_2) / HOUR_MS;
        decidedRuns = candidateRuns;
        decidedAffected = affectedRuns;
      }
    }
  };

  outer: for (let dn = 0; dn < FLEET2.days; dn++) {
    const day = day2(w, dn);
    for (let hh = 0; hh < 24; hh++) {
      const h = dn * 24 + hh;
      for (let e = day.hourStart[hh]!; e < day.hourStart[hh + 1]!; e++) {
        const m = day.mach[e]!;
        const onC = day.bucket[e]! < limit;
        outcome2(w, day, dn, e, onC, o);
        if (onC) {
          blast++;
          candidateRuns++;
          if (affected?.(day, e)) affectedRuns++;
        }
        const at = T0_2 + (dn * 1440 + day.minute[e]!) * MINUTE_MS;
        const result = o.result === 0 ? 'pass' : o.result === 1 ? 'fail' : 'error';
        // single-run identities (CI jobs, fake machines) never report again
        if (m < 0) (onC ? cand : ctrl).addOnce(day0 + dn, result);
        else (onC ? cand : ctrl).add(m, day0 + dn, result);
        segments.report(slotOf(w, m, day.project[e]!, day.python[e]!), dn, rollout.stageIndex, onC, day.project[e]!, day.python[e]!, o.result, o.ids, o.n);
        evidence.counted++;
        evidence.lastReportAt = at;
        if (onC && rollout.stageIndex === 0) {
          evaluate(at + MINUTE_MS);
          if (outcome !== 'hold') {
            if (outcome === 'promoted') blast += runsPerHour() * (HOURS2 - h - 1);
            break outer;
          }
        }
      }
      evaluate(T0_2 + (h + 1) * HOUR_MS);
      if (outcome !== 'hold') {
        // after a promotion every machine runs C until the horizon (expected count)
        if (outcome === 'promoted') blast += runsPerHour() * (HOURS2 - h - 1);
        break outer;
      }
    }
  }
  return {
    outcome, rule, hours, candidateRuns: decidedRuns >= 0 ? decidedRuns : candidateRuns, blast, stage: rollout.stageIndex,
    q0: rollout.q0, lastRule, lastReason,
    affectedRuns: affected ? (decidedAffected >= 0 ? decidedAffected : affectedRuns) : null, firstStage,
  };
}

/** The naive threshold rule of ../sim/play.ts over the v2 world (raw candidate runs, trailing 24 h vs 2× history). */
export function playNaive2(w: World2, policy: Policy, stages: number[]): RolloutResult2 {
  const ringRuns = new Int32Array(24);
  const ringFails = new Int32Array(24);
  let winRuns = 0, winFails = 0, streak = 0, stageIndex = 0, enteredHour = 0;
  let outcome: 'hold' | 'rollback' | 'promoted' = 'hold';
  let hours: number | null = null;
  let candidateRuns = 0, affectedRuns = 0, blast = 0, decidedRuns = -1, decidedAffected = -1;
  let firstStage = false;
  const threshold = 2 * history2(w).raw;
  const affected = affectedOf(w);
  const o = newOutcome();
  outer: for (let dn = 0; dn < FLEET2.days; dn++) {
    const day = day2(w, dn);
    for (let hh = 0; hh < 24; hh++) {
      const h = dn * 24 + hh;
      const limit = percentToBasisPoints(stages[stageIndex]!);
      const slot = h % 24;
      winRuns -= ringRuns[slot]!;
      winFails -= ringFails[slot]!;
      let runs = 0, fails = 0;
      for (let e = day.hourStart[hh]!; e < day.hourStart[hh + 1]!; e++) {
        if (!(day.bucket[e]! < limit)) continue;
        blast++;
        candidateRuns++;
        if (affected?.(day, e)) affectedRuns++;
        runs++;
        outcome2(w, day, dn, e, true, o);
        if (o.result !== 0) fails++;
      }
      ringRuns[slot] = runs;
      ringFails[slot] = fails;
      winRuns += runs;
      winFails += fails;
      const failed = winRuns === 0 || winFails / winRuns > threshold;
      streak = failed ? streak + 1 : 0;
      if (streak >= 6) {
        outcome = 'rollback';
        firstStage = stageIndex === 0;
      } else if ((h + 1 - enteredHour) * 3600 >= policy.stages[stageIndex]!.soakSeconds) {
        stageIndex++;
        enteredHour = h + 1;
        if (stageIndex >= stages.length - 1) outcome = 'promoted';
      }
      if (outcome !== 'hold') {
        hours = h + 1;
        decidedRuns = candidateRuns;
        decidedAffected = affectedRuns;
        if (outcome === 'promoted') blast += runsPerHour() * (HOURS2 - h - 1);
        break outer;
      }
    }
  }
  return {
    outcome, rule: outcome === 'hold' ? null : 'naive', hours, candidateRuns: decidedRuns >= 0 ? decidedRuns : candidateRuns,
    blast, stage: stageIndex, affectedRuns: affected ? (decidedAffected >= 0 ? decidedAffected : affectedRuns) : null, firstStage,
  };
}
