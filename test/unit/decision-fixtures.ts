/** Builders shared by the decision unit tests (not a test file itself). */
import type { DecisionInput } from '../../server/domain/decision';
import type { MachineDay, RolloutEvidence } from '../../server/domain/evidence';
import { resolvePolicy, type Policy, type PolicyOverride } from '../../server/domain/policy';

export const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
export const HOUR_MS = 3_600_000;
export const DAY = '2025-01-06';

/**
 * The hand-computed cases use one level, α = 0.05, for both bounds (a = 2α = 0.1), all of
 * it for the run-level bound (the segment families off); the defaults (α = 0.01 split into
 * 0.0075 for the run-level rollback and 0.0025 for the segments, 0.05 for the advance) have
 * cases of their own.
 */
export const REFERENCE_LEVELS: PolicyOverride = { alpha: 0.05, advanceAlpha: 0.05, projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0 };

export function policy(over?: PolicyOverride, stageCount = 3): Policy {
  return resolvePolicy(stageCount, REFERENCE_LEVELS, over);
}

export function md(machine: string, runs: number, failures = 0, errors = 0, day = DAY): MachineDay {
  return { machine, day, runs, failures, errors };
}

/** `count` machines named prefix0..prefixN, each with one day of `runs` runs. */
export function fleet(prefix: string, count: number, runs: number, failures = 0, errors = 0, day = DAY): MachineDay[] {
  return Array.from({ length: count }, (_, i) => md(`${prefix}${i}`, runs, failures, errors, day));
}

export function evidence(candidate: MachineDay[], control: MachineDay[], extra: Partial<RolloutEvidence> = {}): RolloutEvidence {
  const counted = [...candidate, ...control].reduce((s, m) => s + m.runs, 0);
  return {
    candidate: { machineDays: candidate, failingTests: [] },
    control: { machineDays: control, failingTests: [] },
    mismatched: 0,
    counted,
    lastReportAt: null,
    ...extra,
  };
}

export function rollout(over: Partial<DecisionInput['rollout']> = {}): DecisionInput['rollout'] {
  return {
    stages: [10, 50, 100],
    stageIndex: 0,
    stageEnteredAt: T0,
    q0: 0.05,
    policy: policy(),
    state: 'active',
    frozen: false,
    ...over,
  };
}

/**
 * The reference fleet of the hand-computed cases: 180 control machines with one day of 20
 * runs and 1 failure each (weight 5, F_m = 1·5/20 = 0.25), so N_K = 900, F_K = 45,
 * p_K = 0.05 and every residual F_m − p·N_m is 0 (the variance is the binomial floor).
 */
export function control180(): MachineDay[] {
  return fleet('k', 180, 20, 1);
}
