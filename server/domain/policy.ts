import { invalid } from './errors';

/**
 * Rollout policy: the thresholds of the decision rule (see docs/decision.md). All durations
 * are seconds so tests and demos can run a whole rollout in a minute.
 */
export interface StagePolicy {
  /** Minimum time in the stage before an automatic advance. */
  soakSeconds: number;
  /** Minimum distinct candidate machines. */
  minMachines: number;
  /** Minimum capped candidate runs. */
  minRuns: number;
  /** Non-inferiority margin = max(marginFactor * q0, marginFloor). */
  marginFactor: number;
  marginFloor: number;
}

export interface Policy {
  /**
   * False-rollback probability over the whole rollout. Split across the tests that can roll
   * back: the segment families get projectAlpha, pythonAlpha and signatureAlpha, and the
   * run-level bound behind the regression rollback (D − h > 0) the rest (docs/decision.md).
   */
  alpha: number;
  /**
   * Level of the bound behind an advance (D + h < margin): the probability of advancing a
   * candidate worse than the stage's margin. A different error from a false rollback, with
   * its own level (docs/decision.md, "Two levels").
   */
  advanceAlpha: number;
  /** Per machine per UTC day, at most this many runs count (weight cap). */
  cap: number;
  /** After this long in one stage, keep holding and alert a human. */
  maxStageAgeSeconds: number;
  /** Data-quality alarm: control arm has fewer capped runs than this. */
  minControlRuns: number;
  /** Data-quality alarm: share of reports whose installed version is neither S nor C. */
  maxMismatchShare: number;
  /** Data-quality alarm: sample-ratio-mismatch χ² p-value below this. */
  srmPValue: number;
  /** Hard break needs at least this many all-failing candidate machines. */
  hardBreakMinMachines: number;
  /**
   * Hard break needs that many all-failing machines to be improbable by chance: P(Binomial(G_T,
   * r) ≥ A) below this, where A of the G_T candidate machines failed every run and r is at
   * least the control's capped failure rate and q0 (docs/decision.md, "Order of the verdicts").
   */
  hardBreakPValue: number;
  // --- segments (docs/decision.md, "Segments") --------------------------------------------
  /** Share of alpha for the project tests (first run failed / errored, per consumer project). */
  projectAlpha: number;
  /** Share of alpha for the Python tests (first run failed / errored, per Python minor version). */
  pythonAlpha: number;
  /** Share of alpha for the signature tests (first failure of one test id of one project). */
  signatureAlpha: number;
  /** Projects tracked per rollout (first come; the table never shrinks): bounds the split. */
  maxProjects: number;
  /** Python minor versions tracked per rollout. */
  maxPythons: number;
  /** Failure signatures (project + test id) tracked per rollout. */
  maxSignatures: number;
  /** New segments of any family one machine may add to the tables per UTC day. */
  maxNewSegmentsPerMachineDay: number;
  /** A segment rollback needs at least this many distinct candidate machines with the event. */
  segmentMinMachines: number;
  /**
   * An advance waits while a segment with segmentMinMachines candidate machines is within this
   * factor of its level (e ≥ level / factor): nearly proven bad, so not yet exposed to more
   * machines. 1 turns the wait off.
   */
  segmentHoldFactor: number;
  // --- end segments ---------------------------------------------------------------------------
  // --- sources (docs/trust.md: no single source decides) ------------------------------------
  /**
   * Per report source (an enrolment's address block, or a reporter token), arm and UTC day,
   * at most this many runs count; runs past a machine's own daily cap take nothing from it.
   * 0 turns the cap off.
   */
  sourceCap: number;
  /**
   * Segment events (a machine's first failed run in a project or Python, its first failure of a
   * test) one source adds to one segment per UTC day, across both arms.
   */
  segmentSourceCap: number;
  /** The last automatic step (to 100%) needs candidate evidence from this many distinct sources; a manual promote does not. */
  minSources: number;
  /**
   * An automatic rollback (hard break, regression, segment) needs its failures from this many
   * distinct sources; with fewer the rollout holds with an alert (a manual rollback does not).
   */
  rollbackMinSources: number;
  // --- end sources ----------------------------------------------------------------------------
  /** One entry per stage before the last (the last stage, 100%, is the promoted state). */
  stages: StagePolicy[];
}

const HOUR = 3600;

/** Defaults from the spec: the first stage is lenient, later stages strict. */
export const FIRST_STAGE_DEFAULT: StagePolicy = {
  soakSeconds: 48 * HOUR, minMachines: 10, minRuns: 50, marginFactor: 2, marginFloor: 0.05,
};
export const LATER_STAGE_DEFAULT: StagePolicy = {
  soakSeconds: 72 * HOUR, minMachines: 50, minRuns: 300, marginFactor: 0.5, marginFloor: 0.01,
};

export const POLICY_DEFAULTS: Omit<Policy, 'stages'> = {
  alpha: 0.01,
  advanceAlpha: 0.05,
  cap: 5,
  maxStageAgeSeconds: 14 * 24 * HOUR,
  minControlRuns: 200,
  maxMismatchShare: 0.05,
  srmPValue: 0.001,
  hardBreakMinMachines: 3,
  hardBreakPValue: 0.001,
  projectAlpha: 0.0005,
  pythonAlpha: 0.0005,
  signatureAlpha: 0.0015,
  maxProjects: 100,
  maxPythons: 8,
  maxSignatures: 2000,
  maxNewSegmentsPerMachineDay: 20,
  segmentMinMachines: 3,
  segmentHoldFactor: 10,
  sourceCap: 50,
  segmentSourceCap: 3,
  minSources: 3,
  rollbackMinSources: 3,
};

export type StagePolicyOverride = Partial<StagePolicy>;
export interface PolicyOverride extends Partial<Omit<Policy, 'stages'>> {
  /** Applied to every stage, then `stages[i]` on top. */
  stage?: StagePolicyOverride;
  stages?: StagePolicyOverride[];
}

/**
 * Resolves a full policy for a rollout with `stageCount` stages from the defaults, the
 * server's overrides and the rollout's own overrides (later wins).
 */
export function resolvePolicy(stageCount: number, ...layers: (PolicyOverride | undefined)[]): Policy {
  let base: Omit<Policy, 'stages'> = { ...POLICY_DEFAULTS };
  const stages: StagePolicy[] = [];
  for (let i = 0; i < Math.max(stageCount - 1, 0); i++) {
    stages.push({ ...(i === 0 ? FIRST_STAGE_DEFAULT : LATER_STAGE_DEFAULT) });
  }
  for (const layer of layers) {
    if (!layer) continue;
    const { stage, stages: perStage, ...top } = layer;
    base = { ...base, ...stripUndefined(top) };
    for (let i = 0; i < stages.length; i++) {
      stages[i] = { ...stages[i]!, ...stripUndefined(stage ?? {}), ...stripUndefined(perStage?.[i] ?? {}) };
    }
  }
  const policy = { ...base, stages };
  const left = runLevelAlpha(policy);
  if (!(left > 0)) {
    throw invalid(
      `policy: projectAlpha + pythonAlpha + signatureAlpha (${policy.projectAlpha + policy.pythonAlpha + policy.signatureAlpha}) ` +
        `must stay below alpha (${policy.alpha}): alpha is split between them and the run-level bound`,
      { field: 'policy' },
    );
  }
  return policy;
}

/** The run-level bound's share of `alpha`: what the segment families leave (docs/decision.md). */
export function runLevelAlpha(p: Pick<Policy, 'alpha' | 'projectAlpha' | 'pythonAlpha' | 'signatureAlpha'>): number {
  return p.alpha - p.projectAlpha - p.pythonAlpha - p.signatureAlpha;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A policy as stored by an earlier server version may lack settings added since; a rollout
 * read back gets them filled so the rule never sees undefined. A missing `advanceAlpha` takes
 * the rollout's own `alpha` (the single level it was created with); missing segment levels
 * are 0 (a rollout created before the segment tests keeps its whole alpha for the run-level
 * bound, so its guarantee and its rule stay as they were); any other missing setting takes
 * its default.
 */
export function upgradePolicy(stored: Policy): Policy {
  const p = stored as Partial<Policy> & Pick<Policy, 'stages'>;
  const alpha = p.alpha ?? POLICY_DEFAULTS.alpha;
  const legacy = { projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0 };
  return { ...POLICY_DEFAULTS, advanceAlpha: alpha, ...legacy, ...stripUndefined(p), alpha } as Policy;
}

export function marginFor(stage: StagePolicy, q0: number): number {
  return Math.max(stage.marginFactor * q0, stage.marginFloor);
}
