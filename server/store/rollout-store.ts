import { notFound } from '../domain/errors';
import type { Rollout, RolloutEvent } from '../domain/rollout';
import { TERMINAL_STATES, upgradeRollout } from '../domain/rollout';
import type { BaseOverride, EmergencyPin } from './base-store';
import { upgradePolicy } from '../domain/policy';
import type { Decision } from '../domain/decision';
import { parseDecision, serializeDecision } from './decision-record';
import { keys, type Keys } from './keys';
import { CONTROLLER_LEASE } from './lease';
import { refuse } from './refusals';
import type { DcRedis } from './redis';

/** Side records of a rollout that change without a revision bump (not part of the state machine). */
export interface RolloutRecord {
  rollout: Rollout;
  /** The controller's latest decision, typed and version-checked (./decision-record.ts). */
  decision: Decision | null;
  proposal: unknown;
  /** The separate exclusion change of a rollback (Gerrit proposer's record), or null. */
  exclusion: unknown;
  q0: number | null;
  /** An ended rollout's evidence summary, kept when its evidence keys were set to expire (services/retention.ts). */
  finalEvidence: unknown;
}

export interface OutboxWrite {
  id: string;
  item: unknown;
}

export interface TransitionOptions {
  /** Promotion: the candidate's lines go on top of the branch's base. */
  baseOverride?: BaseOverride;
  /** Rollback of a rollout whose base pins the candidate: the stable for every machine. */
  emergencyPin?: EmergencyPin;
  outbox?: OutboxWrite;
  /** A second proposal written in the same step (the separate exclusion change of a rollback). */
  extraOutbox?: OutboxWrite;
  /** The controller's lease fence; the write is refused if another process took the lease. */
  fence?: { lease: string; token: string };
}

/**
 * Rollouts in Redis: one hash per rollout (`json`, `rev`, plus side fields `decision`,
 * `proposal`, `q0`), an index by creation time, the active rollout per library, and an
 * audit stream per rollout. Every state change goes through a Lua compare-and-set.
 */
export class RolloutStore {
  private readonly k: Keys;
  /** Told of each rollout that has just ended (a terminal transition, or superseded): its evidence can be retired. */
  onEnded: ((id: string) => void) | null = null;

  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
  }

  async create(r: Rollout, event: RolloutEvent, superseded?: { prev: Rollout; next: Rollout; event: RolloutEvent }): Promise<void> {
    const k = this.k;
    const prevId = superseded?.prev.id ?? '';
    const res = await this.redis.dc_create(
      k.rollout(r.id), k.active, k.rolloutIndex, k.events(r.id), k.feed, k.version, k.rollout(prevId), k.events(prevId), k.ending,
      r.id, JSON.stringify(r), k.activeField(r.branch, r.key), JSON.stringify(event), r.createdAt,
      prevId, superseded?.prev.revision ?? 0,
      superseded ? JSON.stringify(superseded.next) : '', superseded?.next.revision ?? 0,
      superseded ? JSON.stringify(superseded.event) : '', k.changed,
    );
    refuse(res, { CONFLICT: `another rollout of ${r.library} on ${r.branch} was started or changed at the same time; retry` });
    if (prevId) this.onEnded?.(prevId);
  }

  /** Applies `next` if the stored revision is still `expected`; 409 otherwise. */
  async transition(expected: Rollout, next: Rollout, event: RolloutEvent, opts: TransitionOptions = {}): Promise<void> {
    const k = this.k;
    const res = await this.redis.dc_transition(
      k.rollout(expected.id), k.active, k.lease(opts.fence?.lease ?? CONTROLLER_LEASE), k.baseOverrides(next.branch), k.emergencyPins(next.branch),
      k.outboxItems, k.outboxDue, k.events(expected.id), k.feed, k.version, k.ending,
      expected.id, expected.revision, JSON.stringify(next), next.revision, JSON.stringify(event),
      k.activeField(next.branch, next.key), TERMINAL_STATES.has(next.state) ? '1' : '0',
      opts.baseOverride ? JSON.stringify(opts.baseOverride) : '',
      opts.outbox?.id ?? '', opts.outbox ? JSON.stringify(opts.outbox.item) : '',
      next.updatedAt, opts.fence?.token ?? '', next.key, opts.emergencyPin ? JSON.stringify(opts.emergencyPin) : '',
      opts.extraOutbox?.id ?? '', opts.extraOutbox ? JSON.stringify(opts.extraOutbox.item) : '', k.changed,
    );
    refuse(res, {
      NOT_FOUND: `rollout ${expected.id} not found`,
      CONFLICT: `rollout ${expected.id} changed since revision ${expected.revision}; reload and retry`,
      FENCE_LOST: 'the controller lease was lost; decision not applied',
    });
    if (TERMINAL_STATES.has(next.state)) this.onEnded?.(next.id);
  }

  async get(id: string): Promise<RolloutRecord | null> {
    const h = await this.redis.hgetall(this.k.rollout(id));
    return h.json ? toRecord(h) : null;
  }

  async require(id: string): Promise<RolloutRecord> {
    const r = await this.get(id);
    if (!r) throw notFound(`rollout ${id} not found`);
    return r;
  }

  /** Newest first. */
  async list(limit = 500): Promise<RolloutRecord[]> {
    const ids = await this.redis.zrevrange(this.k.rolloutIndex, 0, limit - 1);
    return this.getMany(ids);
  }

  /** `<branch>|<library key>` → id of its active rollout. */
  async activeIds(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.k.active);
  }

  async activeIdFor(branch: string, key: string): Promise<string | null> {
    return this.redis.hget(this.k.active, this.k.activeField(branch, key));
  }

  /** Active rollouts indexed before branches (by bare library key) become master's (once, idempotent). */
  async migrate(): Promise<void> {
    const all = await this.activeIds();
    for (const [field, id] of Object.entries(all)) {
      if (field.includes('|')) continue;
      await this.redis.multi().hsetnx(this.k.active, this.k.activeField('master', field), id).hdel(this.k.active, field).exec();
    }
  }

  /** An audit event outside the state machine (e.g. an emergency pin lifted by hand). */
  async appendEvent(id: string, event: RolloutEvent): Promise<void> {
    await this.redis.dc_event(this.k.events(id), this.k.feed, JSON.stringify(event));
  }

  async active(): Promise<RolloutRecord[]> {
    return this.getMany(Object.values(await this.activeIds()));
  }

  async getMany(ids: string[]): Promise<RolloutRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.k.rollout(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => h as Record<string, string>).filter((h) => h?.json).map(toRecord);
  }

  async events(id: string, count = 1000): Promise<RolloutEvent[]> {
    const entries = await this.redis.xrange(this.k.events(id), '-', '+', 'COUNT', count);
    return entries.map(([, fields]) => JSON.parse(fields[1] ?? 'null') as RolloutEvent);
  }

  /** The controller's latest explanation; no revision bump, no audit event. */
  async setDecision(id: string, decision: Decision): Promise<void> {
    await this.redis.hset(this.k.rollout(id), 'decision', serializeDecision(decision));
  }

  /** The proposer's record: the exclusion change's goes to its own field. */
  async setProposal(id: string, proposal: unknown): Promise<void> {
    const field = (proposal as { kind?: unknown } | null)?.kind === 'exclude' ? 'exclusion' : 'proposal';
    await this.redis.hset(this.k.rollout(id), field, JSON.stringify(proposal));
  }

  /**
   * The controller's record of one evaluation (explanation, q0 to freeze, chart point,
   * audit event), refused with a conflict when `fence` is no longer the lease's.
   */
  async recordEvaluation(
    id: string,
    fence: { lease: string; token: string },
    r: { decision: Decision; q0?: number | null; point?: unknown; event?: unknown },
  ): Promise<void> {
    const k = this.k;
    const res = await this.redis.dc_record(
      k.rollout(id), k.lease(fence.lease), k.series(id), k.events(id), k.feed,
      fence.token, serializeDecision(r.decision),
      r.q0 === undefined || r.q0 === null ? '' : String(r.q0),
      r.point === undefined ? '' : JSON.stringify(r.point),
      r.event === undefined ? '' : JSON.stringify(r.event),
    );
    refuse(res, { NOT_FOUND: `rollout ${id} not found`, FENCE_LOST: 'the controller lease was lost; evaluation not recorded' });
  }

  async series(id: string): Promise<unknown[]> {
    return (await this.redis.lrange(this.k.series(id), 0, -1)).map((s) => JSON.parse(s));
  }

  /** Ended rollouts whose evidence has not been retired yet. */
  async endingIds(): Promise<string[]> {
    return this.redis.smembers(this.k.ending);
  }

  /** Keeps an ended rollout's evidence summary in its record (before its evidence keys expire). */
  async setFinalEvidence(id: string, summary: unknown): Promise<void> {
    await this.redis.hset(this.k.rollout(id), 'finalEvidence', JSON.stringify(summary));
  }

  /** The rollout's evidence is retired: it leaves `ending`. */
  async endingDone(id: string): Promise<void> {
    await this.redis.srem(this.k.ending, id);
  }

  /** The counter every change bumps (pins caches compare it). */
  async version(): Promise<number> {
    return Number((await this.redis.get(this.k.version)) ?? 0);
  }
}

function toRecord(h: Record<string, string>): RolloutRecord {
  const stored = upgradeRollout(JSON.parse(h.json!) as Rollout);
  const rollout = { ...stored, policy: upgradePolicy(stored.policy) };
  const q0 = h.q0 !== undefined ? Number(h.q0) : rollout.q0;
  const decision = parseDecision(h.decision);
  const proposal = h.proposal ? JSON.parse(h.proposal) : null;
  const exclusion = h.exclusion ? JSON.parse(h.exclusion) : null;
  const finalEvidence = h.finalEvidence ? JSON.parse(h.finalEvidence) : null;
  return { rollout: { ...rollout, q0, lastDecision: decision, proposal }, decision, proposal, exclusion, q0, finalEvidence };
}
