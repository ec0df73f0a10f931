import { Semaphore } from 'async-mutex';
import type { Logger } from 'pino';
import { decide, type Decision } from '../domain/decision';
import { DomainError } from '../domain/errors';
import { gateDecision, NO_GATES, type GatedDecision, type GateSettings } from '../domain/gates';
import type { Metrics } from '../metrics';
import type { RolloutService } from '../services/rollouts';
import { keys } from '../store/keys';
import type { Lease } from '../store/lease';
import type { DcRedis } from '../store/redis';
import type { RolloutRecord, RolloutStore } from '../store/rollout-store';
import type { TelemetryStore } from '../store/telemetry-store';
import { changed, toPoint, type SeriesPoint } from './series';

export interface ControllerDeps {
  store: RolloutStore;
  telemetry: TelemetryStore;
  rollouts: RolloutService;
  lease: Lease;
  subscriber: DcRedis;
  prefix: string;
  metrics: Metrics;
  logger: Logger;
  tickMs: number;
  debounceMs: number;
  clock?: () => number;
  /** Freeze windows and signoffs: gates beside decide() that hold an automatic advance. */
  gates?: GateSettings;
  /** Evaluations running at once, over all rollouts (default EVALUATIONS_AT_ONCE). */
  evaluationsAtOnce?: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export const CONTROLLER_ACTOR = 'depcanary-controller';
/**
 * Evaluations running at once. A tick (or a batch of reports) names hundreds of rollouts; each
 * evaluation holds its record and evidence while it runs, so running them all at once only
 * grows the heap: a few at a time keep Redis and the CPU as busy.
 */
export const EVALUATIONS_AT_ONCE = 8;
/** After the other holder's lease lapses, so that the takeover does not find it still there. */
const TAKEOVER_MARGIN_MS = 10;

/**
 * The evaluation loop. It runs only while this process holds the controller lease, and
 * evaluates a rollout (a) `debounceMs` after reports for it were counted (any server
 * process publishes the rollout ids on `<prefix>:counted`) and (b) on every tick, for soak
 * expiry. A verdict is applied through the store's compare-and-set at the revision that
 * was evaluated, carrying the lease fence: a manual action or a lost lease in between
 * makes the write fail (409), and the decision is simply re-evaluated next time.
 * Every replica runs one: the others try the lease on each tick, and again the moment the
 * holder's lease lapses, so a dead leader is replaced within the lease time.
 */
export class Controller {
  private timer: NodeJS.Timeout | null = null;
  private takeover: NodeJS.Timeout | null = null;
  private pending = new Map<string, NodeJS.Timeout>();
  /** Per rollout: the evaluation running (`done` ends when its queue is empty) and the one queued behind it. */
  private slots = new Map<string, { done: Promise<void>; queued: Deferred | null }>();
  private ticking = false;
  private last = new Map<string, SeriesPoint>();
  private stopped = false;
  private readonly clock: () => number;
  private readonly running: Semaphore;

  constructor(private readonly d: ControllerDeps) {
    this.clock = d.clock ?? Date.now;
    this.running = new Semaphore(d.evaluationsAtOnce ?? EVALUATIONS_AT_ONCE);
  }

  async start(): Promise<void> {
    const channel = keys(this.d.prefix).counted;
    await this.d.subscriber.subscribe(channel);
    this.d.subscriber.on('message', (ch, msg) => {
      if (ch === channel) for (const id of msg.split(',')) this.notify(id);
    });
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.d.tickMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.takeover) clearTimeout(this.takeover);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    await Promise.allSettled([...this.slots.values()].map((s) => s.done));
    await this.d.lease.release().catch(() => undefined);
    this.d.metrics.controllerLeader.set(0);
    this.d.metrics.controllerFence.set(0);
  }

  /** Debounced evaluation after new reports. */
  notify(id: string): void {
    if (this.stopped || this.pending.has(id)) return;
    this.pending.set(id, setTimeout(() => {
      this.pending.delete(id);
      void this.evaluate(id);
    }, this.d.debounceMs));
  }

  /**
   * A tick renews the lease and names every active rollout for evaluation; it does not wait
   * for them (each rollout has at most one queued, so ticks add no work while they run, and
   * the lease is renewed on time however long they take). A tick while the last one still
   * runs is skipped: ticks never pile up behind a slow Redis.
   */
  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      const fence = await this.d.lease.tick();
      this.d.metrics.controllerLeader.set(fence > 0 ? 1 : 0);
      this.d.metrics.controllerFence.set(fence);
      if (fence === 0) return this.takeOverWhenDue();
      // ids only: each evaluation reads its own record (parsing all of them here as well
      // doubled the garbage of a tick with hundreds of live rollouts)
      const ids = new Set(Object.values(await this.d.store.activeIds()));
      for (const id of ids) void this.evaluate(id);
    } catch (e) {
      this.d.logger.warn({ err: String(e) }, 'controller tick failed');
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Another process holds the lease: when it lapses before the next tick, try again the
   * moment it does, so a dead leader is replaced within the lease time (not lease + tick).
   */
  private takeOverWhenDue(): void {
    const ms = this.d.lease.remainingMs;
    if (this.takeover || this.stopped || ms < 0 || ms >= this.d.tickMs) return;
    this.takeover = setTimeout(() => {
      this.takeover = null;
      void this.tick();
    }, ms + TAKEOVER_MARGIN_MS);
  }

  /**
   * One evaluation at a time per rollout, and at most one queued behind it: requests while
   * one is queued join it (it starts after them, so it reads their reports), so the work per
   * rollout is bounded however fast reports and ticks come. The promise settles when the
   * evaluation that serves this request has run; it never rejects.
   */
  evaluate(id: string): Promise<void> {
    const slot = this.slots.get(id);
    if (slot) return (slot.queued ??= deferred()).promise;
    const first = this.evaluateLogged(id);
    const s: { done: Promise<void>; queued: Deferred | null } = { done: first, queued: null };
    s.done = (async () => {
      await first;
      while (s.queued) {
        const q = s.queued;
        s.queued = null;
        await this.evaluateLogged(id);
        q.resolve();
      }
      this.slots.delete(id);
    })();
    this.slots.set(id, s);
    return first;
  }

  private evaluateLogged(id: string): Promise<void> {
    return this.running.runExclusive(() => this.evaluateNow(id)).catch((e) => {
      this.d.logger.warn({ rollout: id, err: String(e) }, 'evaluation failed');
    });
  }

  private async evaluateNow(id: string): Promise<void> {
    const fence = this.d.lease.held;
    if (this.stopped || !fence) return;
    const rec = await this.d.store.get(id);
    if (!rec || !['active', 'paused'].includes(rec.rollout.state)) return;
    const evidence = await this.d.telemetry.evidence(id, rec.rollout.policy.cap);
    const now = this.clock();
    const decision = gateDecision(decide({ now, rollout: rec.rollout, evidence }), rec.rollout, this.d.gates ?? NO_GATES, now);
    try {
      await this.record(rec, decision, fence);
    } catch (e) {
      if (e instanceof DomainError && e.code === 'conflict') return; // lease lost: not ours to record or apply
      throw e;
    }
    await this.apply(rec, decision, evidence.lastReportAt, fence);
  }

  private async record(rec: RolloutRecord, decision: GatedDecision, fence: { lease: string; token: string }): Promise<void> {
    const id = rec.rollout.id;
    const point = toPoint(decision);
    const prev = this.last.get(id) ?? null;
    const newPoint = changed(prev, point);
    const before = rec.decision as (Decision & Partial<Pick<GatedDecision, 'gate'>>) | null;
    const turned = !before || before.verdict !== decision.verdict || before.rule !== decision.rule || before.stageIndex !== decision.stageIndex
      || (before.gate?.gate ?? null) !== (decision.gate?.gate ?? null);
    await this.d.store.recordEvaluation(id, fence, {
      decision,
      q0: decision.q0ToFreeze,
      point: newPoint ? point : undefined,
      event: turned
        ? {
            type: 'decision', rolloutId: id, actor: CONTROLLER_ACTOR, reason: decision.reason, automatic: true, at: decision.at,
            fromState: rec.rollout.state, toState: rec.rollout.state, fromStage: rec.rollout.stageIndex, toStage: rec.rollout.stageIndex,
            revision: rec.rollout.revision, evidence: decision,
          }
        : undefined,
    });
    if (newPoint) this.last.set(id, point);
  }

  private async apply(rec: RolloutRecord, decision: Decision, lastReportAt: number | null, fence: { lease: string; token: string }): Promise<void> {
    const r = rec.rollout;
    let type: 'promote' | 'rollback' | null = null;
    if (decision.verdict === 'rollback' && !r.frozen) type = 'rollback';
    if (decision.verdict === 'advance' && !r.frozen && r.state === 'active') type = 'promote';
    if (!type) {
      this.d.metrics.decisions.inc({ verdict: decision.verdict, applied: decision.verdict === 'hold' ? 'yes' : 'no' });
      return;
    }
    try {
      await this.d.rollouts.act(r.id, type, CONTROLLER_ACTOR, decision.reason, {
        expectedRevision: r.revision, automatic: true, evidence: decision, fence,
      });
      this.d.metrics.decisions.inc({ verdict: decision.verdict, applied: 'yes' });
      if (lastReportAt !== null) {
        this.d.metrics.decisionLatency.observe({ verdict: decision.verdict }, Math.max(0, this.clock() - lastReportAt) / 1000);
      }
      this.d.logger.info({ rollout: r.id, verdict: decision.verdict, rule: decision.rule, reason: decision.reason }, 'decision applied');
    } catch (e) {
      this.d.metrics.decisions.inc({ verdict: decision.verdict, applied: 'no' });
      if (e instanceof DomainError && e.code === 'conflict') {
        this.d.logger.info({ rollout: r.id, verdict: decision.verdict, why: e.message }, 'decision not applied');
        return;
      }
      throw e;
    }
  }
}
