import { randomBytes } from 'node:crypto';
import { pinnedVersion, pinsOf } from '../domain/constraints';
import { conflict, invalid } from '../domain/errors';
import { normalizeName } from '../domain/names';
import { resolvePolicy, type PolicyOverride } from '../domain/policy';
import { historicalQ0, historyWindow } from '../domain/q0';
import { applyAction, createRollout, currentPercent, DEFAULT_STAGES, type Action, type ActionType, type Rollout } from '../domain/rollout';
import type { RolloutRecord, RolloutStore, TransitionOptions } from '../store/rollout-store';
import type { TelemetryStore } from '../store/telemetry-store';
import { updateType } from '../domain/versions';
import type { PinsCache } from './pins-cache';
import { segmentCheckPolicy, type Decision } from '../domain/decision';
import { segmentOverview, type SegmentOverview } from '../domain/segments';
import { figuresOf, type Figures } from '../presentation/figures';

export interface CreateRolloutInput {
  library: string;
  candidate: string;
  stable?: string;
  stages?: number[];
  policy?: PolicyOverride;
  reason?: string;
}

export interface RolloutView extends Rollout {
  percent: number;
  decision: Decision | null;
  evidence: Awaited<ReturnType<RolloutService['evidenceSummary']>>;
  /** Rates, intervals, durations, gauges and segment lines, computed once for every client (server/presentation). */
  figures: Figures;
}

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
    /** Builds the outbox item written with a rollback or promotion (Gerrit proposals). */
    private readonly outboxFor?: (kind: 'rollback' | 'promote', next: Rollout, action: Action, decision: unknown) => TransitionOptions['outbox'],
  ) {}

  async create(input: CreateRolloutInput, actor: string): Promise<RolloutView> {
    // The base as the pins snapshot already holds it parsed (this process reloads it
    // before replying to any change, so it is current for the caller).
    const file = this.pins.current().base;
    const key = normalizeName(input.library);
    const spelled = pinsOf(file, key)[0]?.name ?? input.library;
    const stable = input.stable ?? pinnedVersion(file, key);
    if (!stable) throw invalid(`${input.library} is not pinned in the base constraints; give "stable" explicitly`, { field: 'stable' });
    const stages = input.stages ?? DEFAULT_STAGES;
    const now = this.clock();
    const policy = resolvePolicy(stages.length, this.serverPolicy, input.policy);
    // q0 from the fleet's last week; too little history leaves it null (the controller then
    // freezes it from the control arm).
    const history = historicalQ0(await this.telemetry.fleetHistory(historyWindow(now)), policy);
    const rollout = createRollout({
      id: rolloutId(key, input.candidate),
      library: spelled,
      stable,
      candidate: input.candidate,
      stages,
      salt: randomBytes(16).toString('hex'),
      policy,
      actor,
      now,
      q0: history.q0,
    });
    const reason = input.reason ?? `start ${spelled} ${stable} → ${input.candidate}`;
    const event = {
      type: 'created', rolloutId: rollout.id, actor, reason, automatic: false, at: now,
      fromState: rollout.state, toState: rollout.state, fromStage: 0, toStage: 0, revision: 1,
      evidence: {
        stable, candidate: input.candidate, stages, updateType: updateType(stable, input.candidate),
        q0: history.q0, q0CappedRuns: history.cappedRuns, q0Machines: history.machines,
        q0Source: history.q0 === null ? null : 'fleet-history',
      },
    };
    const activeId = (await this.store.activeIds())[key];
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

  /** A person's action (or the controller's, with `automatic` and a fence). */
  async act(
    id: string,
    type: ActionType,
    actor: string,
    reason: string,
    opts: { expectedRevision?: number; automatic?: boolean; evidence?: unknown; fence?: TransitionOptions['fence'] } = {},
  ): Promise<Rollout> {
    const { rollout: current, decision } = await this.store.require(id);
    if (opts.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw conflict(`rollout ${id} is at revision ${current.revision}, not ${opts.expectedRevision}; reload and retry`);
    }
    const action: Action = { type, actor, reason, automatic: opts.automatic ?? false };
    const now = this.clock();
    const { next, event } = applyAction(current, action, now, opts.evidence ?? decision ?? undefined);
    const txOpts: TransitionOptions = { fence: opts.fence };
    if (next.state === 'promoted') {
      txOpts.baseOverride = { name: next.library, version: next.candidate, stable: next.stable, rolloutId: next.id };
      txOpts.outbox = this.outboxFor?.('promote', next, action, opts.evidence ?? decision);
    }
    if (next.state === 'rolled_back') txOpts.outbox = this.outboxFor?.('rollback', next, action, opts.evidence ?? decision);
    await this.store.transition(current, next, event, txOpts);
    await this.pins.refreshAfterWrite();
    return next;
  }

  async view(id: string): Promise<RolloutView> {
    return this.toView(await this.store.require(id));
  }

  async list(state?: string): Promise<RolloutView[]> {
    const all = await this.store.list();
    const filtered = state ? all.filter((r) => r.rollout.state === state) : all;
    return Promise.all(filtered.map((r) => this.toView(r)));
  }

  /** Every tracked segment with its counts and e-values (signatures strongest first, at most `limit`). */
  async segments(id: string, limit: number): Promise<SegmentOverview & { rolloutId: string }> {
    const { rollout } = await this.store.require(id);
    const evidence = await this.telemetry.segments(id);
    return { rolloutId: id, ...segmentOverview(evidence, rollout.stages, rollout.policy.alpha, segmentCheckPolicy(rollout.policy), limit) };
  }

  async evidenceSummary(r: Rollout) {
    const [stage, total, meta, candTests, ctrlTests] = await Promise.all([
      this.telemetry.counters(r.id, r.stageIndex),
      this.telemetry.counters(r.id, 'all'),
      this.telemetry.meta(r.id),
      this.telemetry.failingTests(r.id, 'candidate', 10),
      this.telemetry.failingTests(r.id, 'control', 10),
    ]);
    return { stage, total, ...meta, failingTests: { candidate: candTests, control: ctrlTests } };
  }

  private async toView(rec: RolloutRecord): Promise<RolloutView> {
    const r = rec.rollout;
    const evidence = await this.evidenceSummary(r);
    const figures = figuresOf({ ...r, decision: rec.decision, evidence }, this.clock());
    return { ...r, percent: currentPercent(r), decision: rec.decision, evidence, figures };
  }
}

function rolloutId(key: string, candidate: string): string {
  const v = candidate.toLowerCase().replace(/[^a-z0-9.]+/g, '_');
  return `${key}-${v}-${randomBytes(3).toString('hex')}`;
}
