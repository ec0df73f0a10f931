/**
 * What the store hands the decision rule, per arm and cumulative over the rollout's stages:
 * the arm's aggregate as ingestion keeps it (decision/stored-aggregate.ts: the rule's sums,
 * run by run with the rollout's cap, read in O(days)), or else raw, uncapped counts per
 * machine and UTC day from which the rule computes the same aggregate; plus failing-test
 * tallies. The one cap applied before either is the source cap (policy.sourceCap: runs past a
 * source's allowance of the arm and day are not recorded, see `sourceCapped`).
 */
import type { ArmAggregateSource } from './decision/accumulator';
import type { SegmentEvidence } from './segments/types';

export type Arm = 'candidate' | 'control';

export interface MachineDay {
  machine: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  runs: number;
  /** Runs whose outcome was `fail`. */
  failures: number;
  /** Runs whose outcome was `error` (install or set-up failure). */
  errors: number;
  /**
   * The report source of these runs (docs/trust.md): an enrolment's address block or a
   * reporter token. Absent: the machine stands for itself (evidence from before sources).
   */
  source?: string;
}

export interface FailingTest {
  id: string;
  /** Distinct machines of this arm that reported this test failing. */
  machines: number;
}

export interface ArmEvidence {
  machineDays: MachineDay[];
  /**
   * The arm's aggregate kept as runs arrive (decision/accumulator.ts), instead of the
   * machine-days: when present the rule reads it and ignores `machineDays`.
   */
  aggregate?: ArmAggregateSource;
  /** Most frequent first; capped by the store. */
  failingTests: FailingTest[];
}

export interface RolloutEvidence {
  candidate: ArmEvidence;
  control: ArmEvidence;
  /** Reports whose machine ran another version than its arm's (candidate not on C, control not on S). */
  mismatched: number;
  /** Reports counted in one of the arms. */
  counted: number;
  /** Reports not counted because their source had used its allowance (policy.sourceCap) of the arm and day. */
  sourceCapped?: number;
  /** Wall-clock ms of the newest counted report, or null. */
  lastReportAt: number | null;
  /** Per project, Python and failure signature (server/domain/segments); absent: no segment tests. */
  segments?: SegmentEvidence;
}

/** Per stage and arm counters, for people (API, CLI, dashboard). */
export interface ArmCounters {
  runs: number;
  failures: number;
  errors: number;
  machines: number;
  failingMachines: number;
}
