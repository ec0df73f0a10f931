import type { RolloutEvidence } from '../evidence';
import type { Rollout } from '../rollout';
import type { SegmentSummary } from '../segments';

/** What decide() needs: the clock (ms since epoch), the rollout's settings and its evidence. */
export interface DecisionInput {
  /** Wall-clock time of the evaluation, ms since the epoch (passed in: the rule never reads a clock). */
  now: number;
  rollout: Pick<Rollout, 'stages' | 'stageIndex' | 'stageEnteredAt' | 'q0' | 'policy' | 'state' | 'frozen'>;
  evidence: RolloutEvidence;
}

export type Verdict = 'advance' | 'hold' | 'rollback';

/** Which condition decided the verdict. */
export type DecisionRule =
  /** rollback: most candidate machines fail on every run while the control is healthy, too many to be chance. */
  | 'hard_break'
  /** rollback: the always-valid lower bound of D = p_T − p_K is above 0. */
  | 'regression'
  /** rollback: one segment (a project, a Python version or a failing test) is worse on the candidate (see `segments.fired`). */
  | 'segment'
  /** advance: every condition of the stage holds. */
  | 'advance'
  /** hold: no frozen q0 yet and the control arm is too thin to freeze one. */
  | 'no_q0'
  /** hold: a data-quality alarm is raised (see `alarms`). */
  | 'data_quality'
  /** hold: a segment is nearly proven worse on the candidate (see `segments.suspect`). */
  | 'segment_suspect'
  | 'insufficient_soak'
  | 'insufficient_machines'
  | 'insufficient_runs'
  /** hold: the upper bound D + h is not below the stage's margin yet. */
  | 'not_proven_non_inferior'
  /** hold + alert: the rollout has sat in this stage longer than policy.maxStageAgeSeconds. */
  | 'max_stage_age'
  /** hold: the rollout is terminal or already at its last (100%) stage; nothing to decide. */
  | 'not_active'
  /** hold: completing the rollout (the step to 100%) needs candidate evidence from policy.minSources distinct sources. */
  | 'insufficient_sources'
  /**
   * hold + alert: a rollback rule fired (see `held`) but its failures come from fewer than
   * policy.rollbackMinSources distinct sources (docs/trust.md); a human may roll back by hand.
   */
  | 'rollback_needs_sources';

/** Per-arm inputs of the rule (capped statistics and raw tallies). */
export interface ArmSummary {
  /** Σ capped runs (weight min(n, cap) per machine and UTC day). */
  N: number;
  /** Σ capped failures (failures + errors, scaled by the day's weight). */
  F: number;
  /** Distinct machines with N_m > 0. */
  G: number;
  /** F / N, or null without runs. */
  p: number | null;
  /** Cluster-robust variance of p floored by the binomial term, or null without runs. */
  V: number | null;
  /** Raw (uncapped) tallies. */
  runs: number;
  failures: number;
  errors: number;
  machines: number;
  /** Machines whose every run failed or errored. */
  allFailingMachines: number;
  /** Distinct report sources with runs (docs/trust.md; a machine without a source counts as one). */
  sources: number;
  /** Distinct report sources with a failed or errored run. */
  failingSources: number;
}

export interface NewInCandidate {
  id: string;
  /** Distinct candidate machines that reported this test failing. */
  candidateMachines: number;
  /** Control machines failing it, scaled by G_T / G_K. */
  expectedMachines: number;
}

/** A JSON-serialisable explanation of one evaluation (every number is finite or null). */
export interface Decision {
  verdict: Verdict;
  rule: DecisionRule;
  /** One sentence for people, naming the evidence. */
  reason: string;
  at: number;
  stageIndex: number;
  percent: number;
  /** Seconds since the stage was entered. */
  stageAgeSeconds: number;
  candidate: ArmSummary;
  control: ArmSummary;
  /** p_T − p_K. */
  D: number | null;
  /** Always-valid half-width at level `runAlpha`: the regression rollback needs D − h > 0. */
  h: number | null;
  /** Always-valid half-width at level `advanceAlpha`: an advance needs D + hAdvance < margin. */
  hAdvance: number | null;
  /** D − h. */
  lower: number | null;
  /** D + hAdvance. */
  upper: number | null;
  /** Non-inferiority margin of this stage (null until q0 is known). */
  margin: number | null;
  /** Mixture parameter τ = max(q0, 0.01) (before q0 is frozen: max(current control rate, 0.01)). */
  tau: number;
  /** The q0 used: the rollout's frozen q0, or the one being frozen now, or null. */
  q0: number | null;
  /** The rollout's false-rollback level, split between the run-level bound and the segment families. */
  alpha: number;
  /** The run-level bound's share of `alpha` (the level of h). */
  runAlpha: number;
  advanceAlpha: number;
  /**
   * When at least hardBreakMinMachines and half of the candidate machines failed every run
   * (with the control below 50%): P(Binomial(G_T, r) ≥ that many), the chance of so many
   * all-failing machines if each failed at r = max(p_K, q0, the shrunken control rate while
   * the control is thin). A hard break needs it below policy.hardBreakPValue. Null otherwise.
   */
  hardBreakP: number | null;
  /** Every advance condition that is not met (empty for advance and rollback). */
  blockers: DecisionRule[];
  /** Data-quality alarms, "code: explanation". */
  alarms: string[];
  /** A human should look: a data-quality alarm, or max stage age exceeded. */
  alert: boolean;
  /** Top failing test ids over-represented in the candidate arm (at most 10). */
  newInCandidate: NewInCandidate[];
  /** The segment tests: the segment that fired, the strongest evidence, table use and levels (null without segment evidence). */
  segments: SegmentSummary | null;
  /** When the rollout has no q0 yet and the control is now large enough: the value to store. */
  q0ToFreeze: number | null;
  /**
   * With rule rollback_needs_sources: the rollback rule that fired, and the distinct sources
   * its failures came from (null otherwise).
   */
  held: { rule: 'hard_break' | 'regression' | 'segment'; sources: number; needed: number } | null;
  /** Reports not counted because their source had used its allowance of the arm and day. */
  sourceCapped: number;
}
