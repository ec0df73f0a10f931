import { assertBranchName, MASTER } from './branches';
import { conflict, invalid } from './errors';
import { isValidName, normalizeName } from './names';
import type { Policy } from './policy';
import { assertPep440, sameVersion } from './versions';

/**
 * A rollout moves library L from stable S to candidate C through stages (percent of
 * machines on C). The last stage is always 100: reaching it is promotion, so an active
 * rollout sits at a stage index below `stages.length - 1`.
 */
export type RolloutState = 'active' | 'paused' | 'promoted' | 'rolled_back' | 'superseded' | 'abandoned';

export const TERMINAL_STATES: ReadonlySet<RolloutState> = new Set(['promoted', 'rolled_back', 'superseded', 'abandoned']);

/**
 * Where a rollout came from when it was not started by a person: an open bump change in
 * Gerrit (server/gerrit/change-watch.ts). Such a rollout is the change's canary: at 100% it
 * holds until the change merges (then it completes), is abandoned (it ends) or gets a new
 * patch set (it is superseded by the new versions' rollouts).
 */
export interface RolloutSource {
  kind: 'gerrit';
  project: string;
  /** The change's target branch in Gerrit. */
  branch: string;
  change: number;
  patchSet: number;
  /** The patch set's commit and its parent (the stable side). */
  revision: string;
  parent: string;
  url: string;
  subject: string;
  topic: string | null;
  changeId: string;
  /** Libraries the patch set moves (a bundle moves several; each is its own rollout). */
  bundle: number;
}

/** A release manager's signoff on one stage (the signoff policy counts distinct actors). */
export interface Approval {
  stageIndex: number;
  actor: string;
  at: number;
  reason: string;
}

export interface Rollout {
  id: string;
  /** Spelling as given (or as the constraints file has it). */
  library: string;
  /** PEP 503 key: one active rollout per (branch, key). */
  key: string;
  /** The constraints branch (master, stable/<series>, ...) whose base the rollout overrides. */
  branch: string;
  stable: string;
  candidate: string;
  /** Requires-Python of the candidate and of the stable (null: none declared). */
  requiresPython: string | null;
  stableRequiresPython: string | null;
  /** Where Requires-Python came from: the create request, the package index, or nowhere (index off). */
  requiresPythonSource: 'request' | 'index' | 'none';
  /** The community's Pythons when the rollout started. */
  pythons: string[];
  /** Of those, the ones that keep the stable (the candidate does not support them). */
  keptPythons: string[];
  /**
   * What the base pinned when the rollout started: `stable` (the usual case: candidate
   * machines get the candidate) or `candidate` (the bump merged first: the control is
   * served the stable explicitly, and a rollback pins the stable for everyone).
   */
  baseMode: 'stable' | 'candidate';
  stages: number[];
  stageIndex: number;
  state: RolloutState;
  /** Admin freeze: automatic decisions (advance and rollback) are not applied. */
  frozen: boolean;
  salt: string;
  revision: number;
  policy: Policy;
  /** Control failure rate when the rollout started; frozen for the rollout (null until known). */
  q0: number | null;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
  stageEnteredAt: number;
  /** Stage percent history: when each stage was entered. */
  history: { stageIndex: number; percent: number; at: number }[];
  endedAt: number | null;
  endReason: string | null;
  /** Latest decision explanation (written by the controller). */
  lastDecision: unknown;
  /** Gerrit proposal status, written by the proposer. */
  proposal: unknown;
  /** The bump change this rollout canaries, or null when a person started it. */
  source: RolloutSource | null;
  /** Signoffs recorded on its stages (POST /v1/rollouts/:id/approve). */
  approvals: Approval[];
}

export interface NewRollout {
  id: string;
  library: string;
  /** Default master. */
  branch?: string;
  stable: string;
  candidate: string;
  requiresPython?: string | null;
  stableRequiresPython?: string | null;
  requiresPythonSource?: Rollout['requiresPythonSource'];
  pythons?: string[];
  keptPythons?: string[];
  baseMode?: Rollout['baseMode'];
  stages: number[];
  salt: string;
  policy: Policy;
  actor: string;
  now: number;
  /** q0 known at creation (from the fleet's history); omitted or null: frozen later from the control arm. */
  q0?: number | null;
  source?: RolloutSource | null;
}

export const DEFAULT_STAGES = [1, 10, 100];

export function validateStages(stages: number[]): void {
  if (stages.length < 2) throw invalid('stages needs at least two entries, ending with 100', { field: 'stages' });
  if (stages.length > 20) throw invalid('stages has more than 20 entries', { field: 'stages' });
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    if (!(s > 0 && s <= 100) || Math.round(s * 100) !== s * 100) {
      throw invalid(`stages[${i}] = ${s}: each stage is a percent in (0, 100] with at most two decimals`, { field: 'stages' });
    }
    if (i > 0 && s <= stages[i - 1]!) throw invalid('stages must be strictly increasing', { field: 'stages' });
  }
  if (stages[stages.length - 1] !== 100) throw invalid('the last stage must be 100', { field: 'stages' });
}

export function createRollout(n: NewRollout): Rollout {
  if (!isValidName(n.library)) throw invalid(`"${n.library}" is not a valid distribution name`, { field: 'library' });
  assertPep440(n.stable, 'stable');
  assertPep440(n.candidate, 'candidate');
  if (sameVersion(n.stable, n.candidate)) {
    throw invalid(`candidate ${n.candidate} is the same version as stable ${n.stable}`, { field: 'candidate' });
  }
  validateStages(n.stages);
  const branch = n.branch ?? MASTER;
  assertBranchName(branch);
  if (n.q0 != null && !(n.q0 >= 0 && n.q0 <= 1)) throw invalid(`q0 ${n.q0} is not a rate in [0, 1]`, { field: 'q0' });
  if (n.policy.stages.length !== n.stages.length - 1) {
    throw invalid('policy.stages must have one entry per stage before the last', { field: 'policy' });
  }
  return {
    id: n.id,
    library: n.library,
    key: normalizeName(n.library),
    branch,
    stable: n.stable,
    candidate: n.candidate,
    requiresPython: n.requiresPython ?? null,
    stableRequiresPython: n.stableRequiresPython ?? null,
    requiresPythonSource: n.requiresPythonSource ?? 'none',
    pythons: [...(n.pythons ?? [])],
    keptPythons: [...(n.keptPythons ?? [])],
    baseMode: n.baseMode ?? 'stable',
    stages: [...n.stages],
    stageIndex: 0,
    state: 'active',
    frozen: false,
    salt: n.salt,
    revision: 1,
    policy: n.policy,
    q0: n.q0 ?? null,
    createdAt: n.now,
    createdBy: n.actor,
    updatedAt: n.now,
    stageEnteredAt: n.now,
    history: [{ stageIndex: 0, percent: n.stages[0]!, at: n.now }],
    endedAt: null,
    endReason: null,
    lastDecision: null,
    proposal: null,
    source: n.source ?? null,
    approvals: [],
  };
}

/** Percent of machines on the candidate right now (100 once promoted, 0 when ended otherwise). */
export function currentPercent(r: Rollout): number {
  if (r.state === 'promoted') return 100;
  if (TERMINAL_STATES.has(r.state)) return 0;
  return r.stages[r.stageIndex]!;
}

/**
 * A change's canary at its last stage (100%) while the change is still open: it holds there
 * until the change merges, is abandoned or gets a new patch set. Only rollouts with a
 * `source` get there; others are promoted (terminal) when they reach 100%.
 */
export function awaitingMerge(r: Pick<Rollout, 'source' | 'state' | 'stageIndex' | 'stages'>): boolean {
  return r.source !== null && r.source !== undefined && (r.state === 'active' || r.state === 'paused') && r.stageIndex >= r.stages.length - 1;
}

export type ActionType = 'promote' | 'pause' | 'resume' | 'rollback' | 'freeze' | 'unfreeze' | 'supersede' | 'complete' | 'abandon' | 'approve';

export interface Action {
  type: ActionType;
  actor: string;
  reason: string;
  /** Taken by the controller rather than a person. */
  automatic?: boolean;
}

export interface RolloutEvent {
  type: string;
  rolloutId: string;
  actor: string;
  reason: string;
  automatic: boolean;
  at: number;
  fromState: RolloutState;
  toState: RolloutState;
  fromStage: number;
  toStage: number;
  revision: number;
  evidence?: unknown;
}

/**
 * The state machine. Returns the next rollout (revision + 1) and the audit event, or
 * throws a conflict when the state does not allow the action. Automatic actions are
 * refused on a frozen rollout, and an automatic promote is refused on a paused one.
 */
export function applyAction(r: Rollout, a: Action, now: number, evidence?: unknown): { next: Rollout; event: RolloutEvent } {
  if (TERMINAL_STATES.has(r.state)) throw conflict(`rollout ${r.id} is already ${r.state}`);
  if (a.automatic && r.frozen) throw conflict(`rollout ${r.id} is frozen; automatic ${a.type} not applied`);
  const next: Rollout = { ...r, history: [...r.history], revision: r.revision + 1, updatedAt: now };
  let type: string = a.type;
  const last = r.stages.length - 1;
  switch (a.type) {
    case 'promote': {
      if (a.automatic && r.state === 'paused') throw conflict(`rollout ${r.id} is paused; automatic advance not applied`);
      if (awaitingMerge(r)) throw conflict(`rollout ${r.id} is at 100% and completes when change ${r.source!.change} merges`);
      const to = r.stageIndex + 1;
      next.stageIndex = to;
      next.stageEnteredAt = now;
      next.history.push({ stageIndex: to, percent: r.stages[to]!, at: now });
      // A change's canary holds at 100% (still active) until the change merges.
      if (to >= last && r.source) {
        type = 'advanced';
      } else if (to >= last) {
        endAs(next, 'promoted', a.reason, now);
        type = 'promoted';
      } else {
        type = 'advanced';
      }
      break;
    }
    case 'pause':
      if (r.state !== 'active') throw conflict(`rollout ${r.id} is ${r.state}, not active`);
      next.state = 'paused';
      break;
    case 'resume':
      if (r.state !== 'paused') throw conflict(`rollout ${r.id} is ${r.state}, not paused`);
      next.state = 'active';
      break;
    case 'rollback':
      endAs(next, 'rolled_back', a.reason, now);
      type = 'rolled_back';
      break;
    case 'supersede':
      endAs(next, 'superseded', a.reason, now);
      type = 'superseded';
      break;
    case 'freeze':
      if (r.frozen) throw conflict(`rollout ${r.id} is already frozen`);
      next.frozen = true;
      type = 'frozen';
      break;
    case 'unfreeze':
      if (!r.frozen) throw conflict(`rollout ${r.id} is not frozen`);
      next.frozen = false;
      type = 'unfrozen';
      break;
    case 'complete':
      // The change merged: the branch's base now pins the candidate. From any live stage.
      if (!r.source) throw conflict(`rollout ${r.id} has no change to complete it`);
      if (r.stageIndex < last) {
        next.stageIndex = last;
        next.stageEnteredAt = now;
        next.history.push({ stageIndex: last, percent: r.stages[last]!, at: now });
      }
      endAs(next, 'promoted', a.reason, now);
      type = 'promoted';
      break;
    case 'abandon':
      endAs(next, 'abandoned', a.reason, now);
      type = 'abandoned';
      break;
    case 'approve': {
      if (r.stageIndex >= last) throw conflict(`rollout ${r.id} is at its last stage; there is nothing to sign off`);
      const mine = r.approvals.find((x) => x.stageIndex === r.stageIndex && x.actor === a.actor);
      if (mine) throw conflict(`${a.actor} already approved stage ${r.stageIndex + 1} of rollout ${r.id}`);
      next.approvals = [...r.approvals, { stageIndex: r.stageIndex, actor: a.actor, at: now, reason: a.reason }];
      next.revision = r.revision + 1;
      type = 'approved';
      break;
    }
  }
  const event: RolloutEvent = {
    type,
    rolloutId: r.id,
    actor: a.actor,
    reason: a.reason,
    automatic: a.automatic ?? false,
    at: now,
    fromState: r.state,
    toState: next.state,
    fromStage: r.stageIndex,
    toStage: next.stageIndex,
    revision: next.revision,
    ...(evidence === undefined ? {} : { evidence }),
  };
  return { next, event };
}

/** A rollout stored before branches and Python support: master, no Requires-Python known. */
/** Ends `next` in a terminal state: when and why. */
function endAs(next: Rollout, state: RolloutState, reason: string, now: number): void {
  next.state = state;
  next.endedAt = now;
  next.endReason = reason;
}

export function upgradeRollout(r: Rollout): Rollout {
  return {
    ...r,
    branch: r.branch ?? MASTER,
    requiresPython: r.requiresPython ?? null,
    stableRequiresPython: r.stableRequiresPython ?? null,
    requiresPythonSource: r.requiresPythonSource ?? 'none',
    pythons: r.pythons ?? [],
    keptPythons: r.keptPythons ?? [],
    baseMode: r.baseMode ?? 'stable',
    source: r.source ?? null,
    approvals: r.approvals ?? [],
  };
}
