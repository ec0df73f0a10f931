import { reasonDuration, type Decision } from './decision';
import { percentLabel } from './proposal-evidence';
import { awaitingMerge, type Rollout } from './rollout';

/**
 * Gates beside the decision rule. decide() judges the evidence; a gate can only turn an
 * automatic advance (or start) into a hold, never a rollback into anything else, and says
 * why. Each is a named, pure check:
 *  - `awaiting_merge`: a change's canary at 100% holds until the change merges;
 *  - `freeze`: a configured freeze window covers the rollout's branch now;
 *  - `signoff`: the stage needs N approvals from distinct release managers and has fewer.
 */
export type GateName = 'awaiting_merge' | 'freeze' | 'signoff';

export interface GateHold {
  gate: GateName;
  /** One sentence for people. */
  reason: string;
  /** When the hold ends by itself (a freeze window's end), else null. */
  until: number | null;
}

/** A configured window in which no rollout starts or advances automatically. */
export interface FreezeWindow {
  /** ms since the epoch; the window is [start, end). */
  start: number;
  end: number;
  /** Branches it covers; null: every branch. */
  branches: string[] | null;
  reason: string;
}

/** Stage percent (of the stage being left) → approvals needed, e.g. {"10": 2}. */
export type SignoffPolicy = Record<string, number>;

export interface GateSettings {
  freezeWindows: FreezeWindow[];
  signoffs: SignoffPolicy;
}

export const NO_GATES: GateSettings = { freezeWindows: [], signoffs: {} };

type GateRollout = Pick<Rollout, 'branch' | 'stages' | 'stageIndex' | 'state' | 'source' | 'approvals'> & { policy: Pick<Rollout['policy'], 'maxStageAgeSeconds'> };

/** The window covering `branch` at `now` that ends last (overlapping windows hold until the last ends). */
export function activeFreeze(windows: readonly FreezeWindow[], branch: string, now: number): FreezeWindow | null {
  let found: FreezeWindow | null = null;
  for (const w of windows) {
    if (now < w.start || now >= w.end) continue;
    if (w.branches && !w.branches.includes(branch)) continue;
    if (!found || w.end > found.end) found = w;
  }
  return found;
}

export function freezeGate(r: Pick<Rollout, 'branch'>, windows: readonly FreezeWindow[], now: number): GateHold | null {
  const w = activeFreeze(windows, r.branch, now);
  if (!w) return null;
  return { gate: 'freeze', reason: `freeze window until ${new Date(w.end).toISOString()}: ${w.reason}`, until: w.end };
}

/** Approvals the rollout's current stage needs before it advances (0: none). */
export function approvalsNeeded(r: Pick<Rollout, 'stages' | 'stageIndex'>, policy: SignoffPolicy): number {
  const percent = r.stages[r.stageIndex];
  if (percent === undefined || r.stageIndex >= r.stages.length - 1) return 0;
  return Math.max(0, Math.floor(policy[String(percent)] ?? 0));
}

/** Distinct actors who approved the current stage, in order. */
export function approversOfStage(r: Pick<Rollout, 'stageIndex' | 'approvals'>): string[] {
  return [...new Set(r.approvals.filter((a) => a.stageIndex === r.stageIndex).map((a) => a.actor))];
}

export function signoffGate(r: GateRollout, policy: SignoffPolicy): GateHold | null {
  const need = approvalsNeeded(r, policy);
  if (need === 0) return null;
  const have = approversOfStage(r);
  if (have.length >= need) return null;
  const stage = `stage ${r.stageIndex + 1} (${percentLabel(r.stages[r.stageIndex]!)})`;
  return {
    gate: 'signoff',
    reason: `${stage} needs ${need} approval${need === 1 ? '' : 's'} from distinct release managers before it advances; it has ${have.length}${have.length ? ` (${have.join(', ')})` : ''}`,
    until: null,
  };
}

export function mergeGate(r: GateRollout): GateHold | null {
  if (!awaitingMerge(r)) return null;
  return { gate: 'awaiting_merge', reason: `at 100% until change ${r.source!.change} merges (then the base pins the candidate and the rollout completes), is abandoned, or gets a new patch set`, until: null };
}

/** The first gate that holds an automatic advance of `r` now, or null. */
export function advanceGate(r: GateRollout, s: GateSettings, now: number): GateHold | null {
  return mergeGate(r) ?? freezeGate(r, s.freezeWindows, now) ?? signoffGate(r, s.signoffs);
}

/** What the controller records and applies: the rule's explanation, with the gate that held it. */
export type GatedDecision = Decision & { gate: GateHold | null };

/**
 * Applies the gates to decide()'s verdict: an advance held by a gate becomes a hold whose
 * reason names the gate (the rule's own sentence kept after it); a rollback is never held;
 * a change's canary at 100% has no control arm left, so its hold says what it waits for, and
 * once it has waited there longer than the policy's maxStageAgeSeconds the hold is
 * `max_stage_age` with an alert (the change's owners get rollout.held_too_long once).
 */
export function gateDecision(d: Decision, r: GateRollout, s: GateSettings, now: number): GatedDecision {
  const merge = mergeGate(r);
  if (merge) {
    if (d.stageAgeSeconds < r.policy.maxStageAgeSeconds) return { ...d, verdict: 'hold', reason: `Holding: ${merge.reason}.`, gate: merge };
    const waited = `it has waited at 100% for ${reasonDuration(d.stageAgeSeconds)} (max ${reasonDuration(r.policy.maxStageAgeSeconds)}), a human should look`;
    return { ...d, verdict: 'hold', rule: 'max_stage_age', alert: true, reason: `Holding: ${merge.reason}; ${waited}.`, gate: merge };
  }
  if (d.verdict !== 'advance') return { ...d, gate: null };
  const hold = freezeGate(r, s.freezeWindows, now) ?? signoffGate(r, s.signoffs);
  if (!hold) return { ...d, gate: null };
  return { ...d, verdict: 'hold', reason: `Holding: ${hold.reason}. The rule would advance: ${d.reason}`, gate: hold };
}
