/**
 * Plays one rollout of a world under a rule: hourly evaluation ticks over the 21-day
 * horizon, the arm of each run decided by the real bucketing at the stage of that moment.
 * The depcanary player feeds the REAL decide() (public import) with evidence kept
 * incrementally as the store would keep it: one MachineDay per machine, UTC day and arm.
 */
import { percentToBasisPoints } from '../../../server/domain/bucketing';
import { decide } from '../../../server/domain/decision';
import type { ArmEvidence, MachineDay, RolloutEvidence } from '../../../server/domain/evidence';
import type { Policy } from '../../../server/domain/policy';
import { FLEET, HOURS, RANK, type World } from './fleet';
import type { Scenario } from './scenarios';

const { min, floor } = Math;

export const T0 = Date.UTC(2025, 0, 6);
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const DAYS = Array.from({ length: FLEET.days }, (_, d) => new Date(T0 + d * 24 * HOUR_MS).toISOString().slice(0, 10));

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
 * One arm's evidence, kept incrementally: one MachineDay per machine and UTC day, updated in
 * place. The list is kept sorted by machine id (days in order within a machine), the shape
 * a store can hand over cheaply and decide() aggregates without a hash map: entries created
 * during an hour are merged in at the tick (`flush`).
 */
class Arm {
  readonly evidence: ArmEvidence = { machineDays: [], failingTests: [] };
  private readonly index = new Int32Array(FLEET.days * FLEET.machines);
  /** Machine-days by entry number − 1 (for in-place updates). */
  private readonly all: MachineDay[] = [];
  /** Machine rank of each entry of evidence.machineDays. */
  private ranks = new Int32Array(0);
  private readonly fresh: { md: MachineDay; rank: number }[] = [];

  add(w: World, m: number, day: number, result: 0 | 1 | 2): void {
    const key = day * FLEET.machines + m;
    let md: MachineDay;
    const i = this.index[key]!;
    if (i === 0) {
      md = { machine: w.ids[m]!, day: DAYS[day]!, runs: 0, failures: 0, errors: 0 };
      this.all.push(md);
      this.index[key] = this.all.length;
      this.fresh.push({ md, rank: RANK[m]! });
    } else {
      md = this.all[i - 1]!;
    }
    md.runs++;
    if (result === 1) md.failures++;
    else if (result === 2) md.errors++;
  }

  flush(): void {
    const fresh = this.fresh;
    if (fresh.length === 0) return;
    // New entries belong to the current day, after every earlier day of their machine: merge
    // them in by machine rank, in place from the back (no allocation per tick).
    fresh.sort((a, b) => a.rank - b.rank);
    const out = this.evidence.machineDays;
    let i = out.length - 1;
    let j = fresh.length - 1;
    let k = out.length + fresh.length - 1;
    if (this.ranks.length <= k) {
      const grown = new Int32Array(Math.max(1024, 2 * (k + 1)));
      grown.set(this.ranks);
      this.ranks = grown;
    }
    const ranks = this.ranks;
    // grow with push so the array stays packed (setting length would make it holey)
    for (let t = 0; t < fresh.length; t++) out.push(fresh[0]!.md);
    while (j >= 0) {
      const f = fresh[j]!;
      if (i >= 0 && ranks[i]! > f.rank) {
        ranks[k] = ranks[i]!;
        out[k--] = out[i--]!;
      } else {
        ranks[k] = f.rank;
        out[k--] = f.md;
        j--;
      }
    }
    fresh.length = 0;
  }
}

/**
 * q0 'freeze' (the server's path): the rollout starts without q0 and stores decide()'s
 * q0ToFreeze. q0 'history': the rollout is created with q0 = the fleet's capped failure
 * rate over the week before (a variant, to show how much the early freeze costs).
 */
export type Q0Mode = 'freeze' | 'history';

export function playDepcanary(w: World, s: Scenario, policy: Policy, stages: number[], q0Mode: Q0Mode = 'freeze'): RolloutResult {
  const cand = new Arm();
  const ctrl = new Arm();
  const evidence: RolloutEvidence = { candidate: cand.evidence, control: ctrl.evidence, mismatched: 0, counted: 0, lastReportAt: null };
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
    cand.flush();
    ctrl.flush();
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
      (onC ? cand : ctrl).add(w, m, day, r);
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
