import { DomainError } from '../domain/errors';
import { backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import type { GerritClient } from './client';
import type { GerritSettings } from './config';
import { buildFrom, deliver, PermanentError, type Delivery } from './deliver';
import { GerritError } from './http';
import type { GerritMetrics, ProposalOutcome } from './metrics';
import type { Claim, Outbox } from './outbox';
import type { GerritLogger, OutboxItem, ProposalRecord, ProposalSink } from './types';

/**
 * Delivers outbox items one at a time: claim (under a lease) → build / send → record on
 * the rollout → finish the item. A transient failure reschedules the item with backoff; a
 * permanent one (a 4xx that will not change, a missing file) marks it failed. Because
 * delivery is idempotent (deliver.ts), an item re-run after a crash or a lost lease
 * updates the same change rather than opening another.
 */
export interface WorkerDeps {
  outbox: Outbox;
  settings: GerritSettings;
  /** null: Gerrit is not configured; proposals are recorded as "not sent" patches. */
  client: GerritClient | null;
  sink: ProposalSink;
  logger: GerritLogger;
  metrics: GerritMetrics;
  /** The base constraints the server serves (used when Gerrit is not configured). */
  readLocalBase: () => Promise<string>;
  rolloutUrl: (rolloutId: string) => string | null;
  now?: () => number;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** How long a claim lasts before another worker may take the item (default 10 min). */
  leaseMs?: number;
}

interface Step {
  record: ProposalRecord;
  outcome: ProposalOutcome;
  /** null: finished. */
  dueAt: number | null;
  watch: boolean;
  status: OutboxItem['status'];
  error?: string;
}

export class ProposalWorker {
  private readonly now: () => number;

  constructor(private readonly d: WorkerDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Processes one due item; false when none was due. */
  async runOnce(): Promise<boolean> {
    const claim = await this.d.outbox.claim(this.now(), this.d.leaseMs ?? 10 * 60_000);
    if (!claim) return false;
    await this.process(claim);
    return true;
  }

  /** Processes due items until none is left (or `max`); returns how many. */
  async drain(max = 100): Promise<number> {
    let n = 0;
    while (n < max && (await this.runOnce())) n++;
    return n;
  }

  private async process({ item, token }: Claim): Promise<void> {
    const attempts = (item.attempts ?? 0) + 1;
    const base = { kind: item.kind, attempts, updatedAt: this.now() };
    let step: Step;
    try {
      step = await this.attempt(item, base);
    } catch (e) {
      step = this.failure(item, base, e);
    }
    // Record on the rollout first: if that fails the claim simply expires and the item runs again.
    await this.d.sink.setProposal(item.rolloutId, step.record);
    const next: OutboxItem = {
      ...item,
      attempts,
      status: step.status,
      lastAttemptAt: base.updatedAt,
      result: step.record,
      ...(step.error ? { lastError: step.error } : {}),
      ...(step.dueAt !== null ? { nextAttemptAt: step.dueAt } : {}),
    };
    const kept = await this.d.outbox.complete(item.id, token, next, step.dueAt, step.watch);
    this.d.metrics.proposals(step.outcome);
    const log = { outbox: item.id, rollout: item.rolloutId, outcome: step.outcome, attempts, change: step.record.changeNumber, url: step.record.url };
    if (!kept) this.d.logger.warn(log, 'proposal attempt finished after its lease ran out; the newer attempt wins');
    else if (step.error) this.d.logger[step.dueAt === null ? 'error' : 'warn']({ ...log, err: step.error, nextAttemptAt: step.dueAt }, 'Gerrit proposal failed');
    else this.d.logger.info(log, 'Gerrit proposal recorded');
  }

  private async attempt(item: OutboxItem, base: Pick<ProposalRecord, 'kind' | 'attempts' | 'updatedAt'>): Promise<Step> {
    const done = (record: ProposalRecord, outcome: ProposalOutcome, watch = false): Step => ({ record, outcome, dueAt: null, watch, status: 'done' });
    if (item.kind === 'promote' && !this.d.settings.proposePromotions) {
      return done({ ...base, status: 'nothing_to_propose', reason: 'promotion proposals are off (GERRIT_PROPOSE_PROMOTIONS)' }, 'skipped');
    }
    if (!this.d.client) {
      const text = await this.d.readLocalBase();
      const p = buildFrom(item.kind, item.payload, { constraints: text, requirements: null }, { ...this.d.settings, requirementsPath: null }, this.d.rolloutUrl(item.rolloutId));
      if (!p.propose) return done({ ...base, status: 'nothing_to_propose', reason: p.reason, baseRevision: null }, 'nothing_to_propose');
      return done({
        ...base, status: 'not_sent', reason: 'Gerrit is not configured (GERRIT_URL); the change is shown as a patch',
        subject: p.subject, message: p.message, patch: p.patch, files: p.files.map((f) => f.path), baseRevision: null,
      }, 'not_sent');
    }
    const d: Delivery = await deliver(
      { client: this.d.client, settings: this.d.settings, logger: this.d.logger, rolloutUrl: this.d.rolloutUrl },
      item.kind, item.payload,
    );
    const change = d.change ? { changeNumber: d.change.number, changeId: d.change.changeId, url: d.change.url } : {};
    if (!d.proposal.propose) {
      return done({ ...base, status: 'nothing_to_propose', reason: d.proposal.reason, topic: d.topic, baseRevision: d.baseRevision, ...change }, 'nothing_to_propose');
    }
    const p = d.proposal;
    return done({
      ...base, status: 'sent', topic: d.topic, subject: p.subject, message: p.message, patch: p.patch,
      files: p.files.map((f) => f.path), baseRevision: d.baseRevision, ...change,
    }, d.outcome as ProposalOutcome, true);
  }

  private failure(item: OutboxItem, base: Pick<ProposalRecord, 'kind' | 'attempts' | 'updatedAt'>, e: unknown): Step {
    const retryable = e instanceof GerritError ? e.retryable : !(e instanceof PermanentError || e instanceof DomainError);
    const raw = e instanceof Error ? e.message : String(e);
    const error = (this.d.client ? this.d.client.http.redact(raw) : raw).slice(0, 2000);
    const prev = item.result;
    const keep = prev?.changeNumber ? { changeNumber: prev.changeNumber, url: prev.url, changeId: prev.changeId } : {};
    if (!retryable) {
      return { record: { ...base, ...keep, status: 'failed', reason: error, lastError: error }, outcome: 'failed', dueAt: null, watch: false, status: 'failed', error };
    }
    const dueAt = base.updatedAt + backoffMs(base.attempts, this.d.backoff ?? DEFAULT_BACKOFF, this.d.random);
    return {
      record: { ...base, ...keep, status: 'pending', lastError: error, nextAttemptAt: dueAt },
      outcome: 'retry', dueAt, watch: false, status: 'pending', error,
    };
  }
}
