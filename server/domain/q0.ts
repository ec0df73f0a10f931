import { aggregateArm } from './decision';
import type { ArmEvidence } from './evidence';
import type { Policy } from './policy';

const DAY_MS = 86_400_000;

/**
 * The UTC days (YYYY-MM-DD, oldest first) of the fleet history a rollout created at `now`
 * takes its q0 from: the `days` days before `now`'s day, and that day itself.
 */
export function historyWindow(now: number, days = 7): string[] {
  const out: string[] = [];
  for (let i = days; i >= 0; i--) out.push(new Date(now - i * DAY_MS).toISOString().slice(0, 10));
  return out;
}

export interface HistoricalQ0 {
  /** Capped failure rate F / N, or null when N < policy.minControlRuns (or there are no runs). */
  q0: number | null;
  /** N: Σ capped runs, min(n, cap) per machine and UTC day. */
  cappedRuns: number;
  /** Distinct machines with runs. */
  machines: number;
}

/**
 * q0 from the fleet's history before a rollout: before a rollout exists the whole fleet is
 * its control, so this is the control failure rate when the rollout started. Capped exactly
 * as the decision rule caps an arm (`aggregateArm`), and trusted under the same threshold
 * the rule uses to freeze q0 from the control arm (policy.minControlRuns capped runs).
 */
export function historicalQ0(evidence: ArmEvidence, policy: Pick<Policy, 'cap' | 'minControlRuns'>): HistoricalQ0 {
  const a = aggregateArm(evidence, policy.cap);
  const enough = a.N > 0 && a.N >= policy.minControlRuns;
  return { q0: enough ? a.F / a.N : null, cappedRuns: a.N, machines: a.G };
}
