import type { ArmEvidence, RolloutEvidence } from '../evidence';
import type { Policy } from '../policy';
import { chiSquare1Survival } from './chisq';
import { aggregateArm } from './stats';

/**
 * Data-quality alarms (DECISION.md): each one holds the advance and alerts a human
 * (control_runs_low only once the stage has soaked).
 *  - control_runs_low: the control arm has fewer capped runs than policy.minControlRuns;
 *  - sample_ratio_mismatch: the candidate share of machines reporting in this stage is far
 *    from the stage percent (χ² test, one degree of freedom, p < policy.srmPValue);
 *  - mismatched_reports: more than policy.maxMismatchShare of the reports ran another version
 *    than their arm's (a candidate machine not on C, a control machine not on S).
 */
export interface SrmResult {
  candidateMachines: number;
  controlMachines: number;
  expectedShare: number;
  chi2: number;
  pValue: number;
}

const DAY_MS = 86_400_000;

function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The sample-ratio test counts distinct machines that reported during the current stage.
 * Evidence is cumulative over stages and kept per UTC day, so for a later stage only the
 * days after the day it was entered count (on that day a machine may have reported as
 * control before the advance and as candidate after it); for the first stage every day
 * counts (null). Within that window a machine reports in one arm only: arms follow the
 * bucket, and the candidate range does not change within a stage.
 */
export function srmWindowAfter(stageIndex: number, stageEnteredAt: number): string | null {
  return stageIndex === 0 ? null : utcDay(stageEnteredAt);
}

/**
 * χ² test (one degree of freedom) of the candidate share of machines against the stage
 * percent. Null (no test) while either expected count is below 5, where the χ²
 * approximation is poor, or at 0% / 100%.
 */
export function srmTest(candidateMachines: number, controlMachines: number, percent: number): SrmResult | null {
  const share = percent / 100;
  if (!(share > 0 && share < 1)) return null;
  const n = candidateMachines + controlMachines;
  const expT = n * share;
  const expK = n * (1 - share);
  if (expT < 5 || expK < 5) return null;
  const dev = candidateMachines - expT;
  const chi2 = (dev * dev) / expT + (dev * dev) / expK;
  return { candidateMachines, controlMachines, expectedShare: share, chi2, pValue: chiSquare1Survival(chi2) };
}

/** The sample-ratio test straight from evidence (decide() reuses its own aggregates). */
export function sampleRatio(
  evidence: RolloutEvidence,
  percent: number,
  stageIndex: number,
  stageEnteredAt: number,
): SrmResult | null {
  const after = srmWindowAfter(stageIndex, stageEnteredAt);
  // machines, whatever the cap: an arm's kept aggregate counts them as its machine-days would
  const machines = (arm: ArmEvidence) => (arm.aggregate ? arm.aggregate.aggregate(after) : aggregateArm(arm, 1, after)).windowMachines;
  return srmTest(machines(evidence.candidate), machines(evidence.control), percent);
}

export interface AlarmInput {
  evidence: RolloutEvidence;
  policy: Policy;
  controlCappedRuns: number;
  srm: SrmResult | null;
  /** The stage has soaked (time in stage ≥ its soak). */
  soaked: boolean;
}

export interface Alarms {
  /** "code: explanation"; every one holds the advance. */
  alarms: string[];
  /**
   * Whether they call for a human. A thin control (control_runs_low) is normal in a rollout's
   * first minutes: it alerts only once the stage has soaked (before that nothing could advance
   * anyway). The other alarms alert at once.
   */
  alert: boolean;
}

export function dataQualityAlarms(x: AlarmInput): Alarms {
  const alarms: string[] = [];
  let alert = false;
  const { policy, evidence } = x;
  if (x.controlCappedRuns < policy.minControlRuns) {
    alarms.push(`control_runs_low: the control arm has ${fmt(x.controlCappedRuns)} capped runs (< ${policy.minControlRuns})`);
    alert = x.soaked;
  }
  const { srm } = x;
  if (srm && srm.pValue < policy.srmPValue) {
    const total = srm.candidateMachines + srm.controlMachines;
    alarms.push(
      `sample_ratio_mismatch: ${srm.candidateMachines} of ${total} machines in this stage are candidates ` +
        `(${pct(srm.candidateMachines / total)}, expected ${pct(srm.expectedShare)}; χ² = ${srm.chi2.toFixed(1)}, p = ${srm.pValue.toExponential(1)})`,
    );
    alert = true;
  }
  // reports over their source's cap ran their arm's version: they are reports, not mismatches
  const all = evidence.mismatched + evidence.counted + (evidence.sourceCapped ?? 0);
  if (all > 0 && evidence.mismatched / all > policy.maxMismatchShare) {
    alarms.push(
      `mismatched_reports: ${evidence.mismatched} of ${all} reports (${pct(evidence.mismatched / all)}) ran another version than their arm's ` +
        `(> ${pct(policy.maxMismatchShare)})`,
    );
    alert = true;
  }
  return { alarms, alert };
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
