import { randomBytes } from 'node:crypto';
import { newSalt } from '../domain/bucketing';
import { MASTER, unknownBranchMessage } from '../domain/branches';
import { conflict, invalid, notFound } from '../domain/errors';
import { normalizeName } from '../domain/names';
import { resolvePolicy, type PolicyOverride } from '../domain/policy';
import { normalizeRequiresPython } from '../domain/pythons';
import { historicalQ0, historyWindow } from '../domain/q0';
import { defaultStable, planForNewRollout } from '../domain/rollout-lines';
import { activeFreeze, approvalsNeeded, approversOfStage, NO_GATES, signoffGate, type GateSettings } from '../domain/gates';
import { applyAction, createRollout, currentPercent, DEFAULT_STAGES, type Action, type ActionType, type Rollout, type RolloutEvent, type RolloutSource } from '../domain/rollout';
import { updateType } from '../domain/versions';
import { IndexUnavailable, NotOnIndex, type IndexClient } from '../index/client';
import type { BaseStore, LineOverride } from '../store/base-store';
import type { RolloutRecord, RolloutStore, TransitionOptions } from '../store/rollout-store';
import type { EvidenceSummary, TelemetryStore } from '../store/telemetry-store';
import type { EmergencyPinView } from './pins';
import type { PinsCache } from './pins-cache';
import { segmentCheckPolicy, type Decision } from '../domain/decision';
import { segmentOverview, type SegmentOverview } from '../domain/segments';
import { figuresOf, type Figures } from '../presentation/figures';

export interface CreateRolloutInput {
  library: string;
  candidate: string;
  stable?: string;
  /** master (default), stable/<series>, unmaintained/<series>, or a release id like 2025.2. */
  branch?: string;
  /** The candidate's Requires-Python ('' for none); given, the package index is not asked. */
  requiresPython?: string;
  stages?: number[];
  policy?: PolicyOverride;
  reason?: string;
  /** The bump change a canary comes from (the change watcher); never from the HTTP body. */
  source?: RolloutSource;
}

/** What a release manager adds to a rollback's proposals. */
export interface ProposalOptions {
  /** Propose the `!=C` exclusion in the requirements file (a separate change); default: the server's setting. */
  exclude?: boolean;
  /** A bug the proposal names: `Closes-Bug: #N` or `Related-Bug: #N`. */
  bug?: { kind: 'closes' | 'related'; id: string };
}

export type OutboxKind = 'rollback' | 'promote' | 'exclude';
export type OutboxBuilder = (kind: OutboxKind, next: Rollout, action: Action, decision: unknown, options: ProposalOptions) => TransitionOptions['outbox'];

export interface RolloutView extends Rollout {
  percent: number;
  decision: Decision | null;
  /** running, or diverged: the base no longer pins the stable or the candidate on the lines concerned. */
  lines: { status: 'running' | 'diverged' | 'ended'; candidateLines: number; controlLines: number };
  /** The stable pinned for every machine after a rollback of a merged bump, until the base follows. */
  emergencyPin: EmergencyPinView | null;
  exclusion: unknown;
  evidence: EvidenceSummary;
  /** Rates, intervals, durations, gauges and segment lines, computed once for every client (server/presentation). */
  figures: Figures;
  /** The signoff policy on the current stage: approvals needed before it advances, and who gave one. */
  signoff: { needed: number; approvers: string[] };
  /** The freeze window covering the rollout's branch now (no automatic start or advance), or null. */
  freeze: { until: number; reason: string } | null;
}

/** The package index could not answer: a create is refused (503), never guessed. */
export class RequiresPythonUnavailable extends Error {}

/**
 * Release-manager operations on rollouts. Every change is a domain transition applied by
 * the store's compare-and-set; the pins cache is refreshed before returning so the
 * caller's next pins request already sees the change.
 */
export class RolloutService {
  constructor(
    private readonly store: RolloutStore,
    private readonly telemetry: TelemetryStore,
    private readonly pins: PinsCache,
    private readonly serverPolicy: PolicyOverride | undefined,
    private readonly clock: () => number = Date.now,
    /** Builds the outbox items written with a rollback or promotion (Gerrit proposals). */
    private readonly outboxFor?: OutboxBuilder,
    private readonly index?: IndexClient,
    private readonly base?: BaseStore,
    /** Freeze windows and the signoff policy (config); a manual promote needs the stage's signoffs too. */
    readonly gates: GateSettings = NO_GATES,
  ) {}

  async create(input: CreateRolloutInput, actor: string): Promise<RolloutView> {
    // The base as the pins snapshot already holds it parsed (this process reloads it
    // before replying to any change, so it is current for the caller).
    const snap = this.pins.current();
    const branchSnap = snap.resolve(input.branch ?? MASTER);
    if (!branchSnap) throw notFound(unknownBranchMessage(input.branch ?? MASTER, snap.branchNames));
    const branch = branchSnap.branch;
    const file = branchSnap.effective;
    const key = normalizeName(input.library);
    const spelled = snap.nameIn(branch, input.library);
    const pin = branchSnap.emergency.find((e) => e.key === key && e.inForce);
    if (pin) {
      throw conflict(
        `${spelled} has an emergency pin at ${pin.stable} on ${branch} since rollout ${pin.rolloutId} was rolled back; it ends when the base stops pinning ${pin.candidate} (merge the revert), or lift it first (POST /v1/rollouts/${pin.rolloutId}/lift-pin)`,
      );
    }
    const stable = input.stable ?? defaultStable(file, key, branchSnap.pythons);
    if (!stable) {
      throw invalid(
        file.index.has(key)
          ? `${spelled} is pinned at several versions on ${branch} with no single one for the newest Python; give "stable" explicitly`
          : `${input.library} is not pinned in the ${branch} constraints; a rollout needs the base to pin it`,
        { field: file.index.has(key) ? 'stable' : 'library' },
      );
    }
    const support = await this.requiresPython(spelled, stable, input);
    const plan = planForNewRollout(file, {
      library: spelled, branch, key, stable, candidate: input.candidate, pythons: branchSnap.pythons,
      candidateRequiresPython: support.requiresPython, stableRequiresPython: support.stableRequiresPython,
    });
    const stages = input.stages ?? DEFAULT_STAGES;
    const now = this.clock();
    const policy = resolvePolicy(stages.length, this.serverPolicy, input.policy);
    // q0 from the fleet's last week; too little history leaves it null (the controller then
    // freezes it from the control arm).
    const history = historicalQ0(await this.telemetry.fleetHistory(historyWindow(now)), policy);
    const baseMode = plan.control.length > 0 ? 'candidate' : 'stable';
    const rollout = createRollout({
      id: rolloutId(key, input.candidate),
      library: spelled,
      branch,
      stable,
      candidate: input.candidate,
      requiresPython: support.requiresPython,
      stableRequiresPython: support.stableRequiresPython,
      requiresPythonSource: support.source,
      pythons: branchSnap.pythons,
      keptPythons: plan.kept,
      baseMode,
      stages,
      salt: newSalt(randomBytes(16)),
      policy,
      actor,
      now,
      q0: history.q0,
      source: input.source ?? null,
    });
    const reason = input.reason ?? `start ${spelled} ${stable} → ${input.candidate}${branch === MASTER ? '' : ` on ${branch}`}`;
    const event = {
      type: 'created', rolloutId: rollout.id, actor, reason, automatic: false, at: now,
      fromState: rollout.state, toState: rollout.state, fromStage: 0, toStage: 0, revision: 1,
      evidence: {
        branch, stable, candidate: input.candidate, stages, updateType: updateType(stable, input.candidate),
        requiresPython: support.requiresPython, stableRequiresPython: support.stableRequiresPython, requiresPythonSource: support.source,
        requiresPythonUrl: support.url, pythons: branchSnap.pythons, keptPythons: plan.kept, baseMode,
        candidateLines: plan.candidate.map((c) => ({ before: c.before, after: c.after })),
        controlLines: plan.control.map((c) => ({ before: c.before, after: c.after })),
        q0: history.q0, q0CappedRuns: history.cappedRuns, q0Machines: history.machines,
        q0Source: history.q0 === null ? null : 'fleet-history',
        ...(input.source ? { source: input.source } : {}),
      },
    };
    const activeId = await this.store.activeIdFor(branch, key);
    let superseded;
    if (activeId) {
      const prev = (await this.store.require(activeId)).rollout;
      const s = applyAction(prev, { type: 'supersede', actor, reason: `superseded by ${rollout.id} (${input.candidate})` }, now);
      superseded = { prev, next: s.next, event: s.event };
    }
    await this.store.create(rollout, event, superseded);
    await this.pins.refreshAfterWrite();
    return this.view(rollout.id);
  }

  private async requiresPython(library: string, stable: string, input: CreateRolloutInput): Promise<{
    requiresPython: string | null; stableRequiresPython: string | null; source: Rollout['requiresPythonSource']; url: string | null;
  }> {
    if (input.requiresPython !== undefined) {
      return { requiresPython: normalizeRequiresPython(input.requiresPython), stableRequiresPython: null, source: 'request', url: null };
    }
    if (!this.index?.enabled) return { requiresPython: null, stableRequiresPython: null, source: 'none', url: null };
    let found;
    try {
      found = await this.index.requiresPython(library, [input.candidate, stable]);
    } catch (e) {
      if (e instanceof NotOnIndex) {
        throw invalid(`${library} is not on the package index (${e.message}); give requiresPython ('' for none) to start without it`, { field: 'library' });
      }
      if (e instanceof IndexUnavailable) {
        throw new RequiresPythonUnavailable(
          `cannot read Requires-Python of ${library} ${input.candidate} from the package index: ${e.message}; retry, or give requiresPython ('' for none) to start without the index`,
        );
      }
      throw e;
    }
    const cand = found.releases.get(input.candidate);
    if (!cand) {
      throw invalid(`${library} ${input.candidate} is not on the package index (${found.url}); check the version, or give requiresPython ('' for none) to start without the index`, { field: 'candidate' });
    }
    return {
      requiresPython: cand.requiresPython,
      stableRequiresPython: found.releases.get(stable)?.requiresPython ?? null,
      source: 'index',
      url: found.url,
    };
  }

  /** A person's action (or the controller's, with `automatic` and a fence). */
  async act(
    id: string,
    type: ActionType,
    actor: string,
    reason: string,
    opts: { expectedRevision?: number; automatic?: boolean; evidence?: unknown; fence?: TransitionOptions['fence']; proposal?: ProposalOptions } = {},
  ): Promise<Rollout> {
    const { rollout: current, decision } = await this.store.require(id);
    if (opts.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw conflict(`rollout ${id} is at revision ${current.revision}, not ${opts.expectedRevision}; reload and retry`);
    }
    const action: Action = { type, actor, reason, automatic: opts.automatic ?? false };
    // The signoff policy binds people too: one release manager cannot promote past it alone.
    if (type === 'promote' && !action.automatic) {
      const held = signoffGate(current, this.gates.signoffs);
      if (held) throw conflict(`${held.reason}; approve it first (POST /v1/rollouts/${id}/approve)`);
    }
    const now = this.clock();
    const { next, event } = applyAction(current, action, now, opts.evidence ?? decision ?? undefined);
    const txOpts: TransitionOptions = { fence: opts.fence };
    // The rule's evidence goes with a proposal only when the rule decided (docs/gerrit.md).
    const ruleEvidence = action.automatic ? (opts.evidence ?? decision) : null;
    // A change's canary has the change itself as its proposal: its verdict is the vote on it
    // (server/gerrit/change-watch.ts). A rollback has nothing to revert (the bump never
    // merged); the exclusion only when the request asks for it.
    const fromChange = next.source !== null;
    const options = fromChange ? { exclude: false, ...(opts.proposal ?? {}) } : (opts.proposal ?? {});
    if (next.state === 'promoted') {
      txOpts.baseOverride = lineOverride(next);
      if (!fromChange) txOpts.outbox = this.outboxFor?.('promote', next, action, ruleEvidence, options);
    }
    if (next.state === 'rolled_back') {
      const live = this.pins.current().branches.get(next.branch)?.live.find((r) => r.id === next.id);
      if (live && live.controlChanges.length > 0) txOpts.emergencyPin = { ...lineOverride(next), at: now, reason };
      if (!fromChange || live?.controlChanges.length) txOpts.outbox = this.outboxFor?.('rollback', next, action, ruleEvidence, options);
      if (!fromChange || options.exclude) txOpts.extraOutbox = this.outboxFor?.('exclude', next, action, ruleEvidence, options);
    }
    await this.store.transition(current, next, event, txOpts);
    await this.pins.refreshAfterWrite();
    return next;
  }

  /** A release manager's signoff on the rollout's current stage (audited; one per person and stage). */
  async approve(id: string, actor: string, reason: string, expectedRevision?: number): Promise<RolloutView> {
    await this.act(id, 'approve', actor, reason, { expectedRevision });
    return this.view(id);
  }

  /** Lifts the emergency pin a rollback left (a release manager's call); the audit trail says who and why. */
  async liftPin(id: string, actor: string, reason: string): Promise<RolloutView> {
    const { rollout: r } = await this.store.require(id);
    if (!this.base) throw new Error('liftPin needs the base store');
    const pins = await this.base.emergencyPins(r.branch);
    if (pins.get(r.key)?.rolloutId !== r.id) throw conflict(`rollout ${id} has no emergency pin in force on ${r.branch}`);
    await this.base.liftEmergencyPin(r.branch, r.key);
    const now = this.clock();
    const event: RolloutEvent = {
      type: 'emergency_pin_lifted', rolloutId: id, actor, reason, automatic: false, at: now,
      fromState: r.state, toState: r.state, fromStage: r.stageIndex, toStage: r.stageIndex, revision: r.revision,
    };
    await this.store.appendEvent(id, event);
    await this.pins.refreshAfterWrite(true);
    return this.view(id);
  }

  async view(id: string): Promise<RolloutView> {
    return this.toView(await this.store.require(id));
  }

  async list(filter: { state?: string; branch?: string; change?: number } = {}): Promise<RolloutView[]> {
    const all = await this.store.list();
    const filtered = all.filter((r) => (!filter.state || r.rollout.state === filter.state) && (!filter.branch || r.rollout.branch === filter.branch)
      && (filter.change === undefined || r.rollout.source?.change === filter.change));
    return Promise.all(filtered.map((r) => this.toView(r)));
  }

  /** Every tracked segment with its counts and e-values (signatures strongest first, at most `limit`). */
  async segments(id: string, limit: number): Promise<SegmentOverview & { rolloutId: string }> {
    const { rollout } = await this.store.require(id);
    const evidence = await this.telemetry.segments(id);
    return { rolloutId: id, ...segmentOverview(evidence, rollout.stages, rollout.policy.alpha, segmentCheckPolicy(rollout.policy), limit) };
  }

  /** A live rollout's evidence as it is now; an ended one's as it was kept when its evidence was retired. */
  async evidenceSummary(r: Rollout, rec?: RolloutRecord): Promise<EvidenceSummary> {
    if (rec?.finalEvidence) return rec.finalEvidence as EvidenceSummary;
    return this.telemetry.summary(r.id, r.stageIndex);
  }

  private async toView(rec: RolloutRecord): Promise<RolloutView> {
    const r = rec.rollout;
    const b = this.pins.current().branches.get(r.branch);
    const live = b?.live.find((x) => x.id === r.id);
    const emergencyPin = b?.emergency.find((e) => e.rolloutId === r.id) ?? null;
    const evidence = await this.evidenceSummary(r, rec);
    const figures = figuresOf({ ...r, decision: rec.decision, evidence }, this.clock());
    return {
      ...r,
      percent: currentPercent(r),
      decision: rec.decision,
      lines: live
        ? { status: live.status, candidateLines: live.candidateChanges.length, controlLines: live.controlChanges.length }
        : { status: 'ended', candidateLines: 0, controlLines: 0 },
      emergencyPin,
      exclusion: rec.exclusion,
      evidence,
      figures,
      signoff: { needed: approvalsNeeded(r, this.gates.signoffs), approvers: approversOfStage(r) },
      freeze: live ? freezeView(this.gates, r.branch, this.clock()) : null,
    };
  }
}

function freezeView(g: GateSettings, branch: string, now: number): RolloutView['freeze'] {
  const w = activeFreeze(g.freezeWindows, branch, now);
  return w ? { until: w.end, reason: w.reason } : null;
}

function lineOverride(r: Rollout): LineOverride {
  return {
    rolloutId: r.id, name: r.library, key: r.key, stable: r.stable, candidate: r.candidate,
    requiresPython: r.requiresPython, stableRequiresPython: r.stableRequiresPython, pythons: r.pythons,
  };
}

function rolloutId(key: string, candidate: string): string {
  const v = candidate.toLowerCase().replace(/[^a-z0-9.]+/g, '_');
  return `${key}-${v}-${randomBytes(3).toString('hex')}`;
}

