import { DomainError } from '../domain/errors';
import { backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import type { GerritClient } from './client';
import type { GerritSettings } from './config';
import { branchOfPayload, buildFrom, deliver, PermanentError, type Delivery } from './deliver';
import { GerritError } from './http';
import type { GerritMetrics, ProposalOutcome } from './metrics';
import type { Claim, Outbox } from './outbox';
import type { RolloutState } from '../domain/rollout';
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
  /** A branch's base constraints as the server serves it (used when Gerrit does not take the branch). */
  readLocalBase: (branch: string) => Promise<string>;
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
  private account: Promise<string | null> | null = null;

  constructor(private readonly d: WorkerDeps) {
    this.now = d.now ?? Date.now;
  }

  /** GERRIT_SIGNED_OFF_BY, else the Gerrit account's name and preferred e-mail (asked once). */
  private signedOffBy(): Promise<string | null> {
    if (this.d.settings.signedOffBy) return Promise.resolve(this.d.settings.signedOffBy);
    if (!this.d.client) return Promise.resolve(null);
    this.account ??= this.d.client.accountSelf().then(
      (a) => (a.email ? `${a.name ?? a.username ?? this.d.settings.connection!.user} <${a.email}>` : null),
      (e: Error) => {
        this.account = null;
        throw e;
      },
    );
    return this.account;
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
    const base = { kind: item.kind, branch: branchOfPayload(item.payload, this.d.settings), attempts, updatedAt: this.now() };
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
    if (kept && (step.outcome === 'created' || step.status === 'failed')) await this.announce(item, step).catch((e: Error) => this.d.logger.warn({ outbox: item.id, err: e.message }, 'could not record the proposal event'));
    this.d.metrics.proposals(step.outcome);
    const log = { outbox: item.id, rollout: item.rolloutId, outcome: step.outcome, attempts, change: step.record.changeNumber, url: step.record.url };
    if (!kept) this.d.logger.warn(log, 'proposal attempt finished after its lease ran out; the newer attempt wins');
    else if (step.error) this.d.logger[step.dueAt === null ? 'error' : 'warn']({ ...log, err: step.error, nextAttemptAt: step.dueAt }, 'Gerrit proposal failed');
    else this.d.logger.info(log, 'Gerrit proposal recorded');
  }

  /** A proposal opened (a new change) or failed for good becomes an audit event, which webhooks send. */
  private async announce(item: OutboxItem, step: Step): Promise<void> {
    if (!this.d.sink.appendEvent) return;
    const r = item.payload.rollout as OutboxItem['payload']['rollout'] & { state?: RolloutState; revision?: number };
    const opened = step.outcome === 'created';
    await this.d.sink.appendEvent(item.rolloutId, {
      type: opened ? 'proposal_opened' : 'proposal_failed', rolloutId: item.rolloutId, actor: 'depcanary-gerrit', automatic: true, at: step.record.updatedAt,
      reason: opened ? `${step.record.subject ?? item.kind} (change ${step.record.changeNumber})` : `${item.kind} proposal failed: ${step.error ?? step.record.reason ?? ''}`.slice(0, 500),
      fromState: r.state ?? 'rolled_back', toState: r.state ?? 'rolled_back', fromStage: r.stageIndex, toStage: r.stageIndex, revision: r.revision ?? 0,
      evidence: { kind: item.kind, status: step.record.status, change: step.record.changeNumber ?? null, url: step.record.url ?? null },
    });
  }

  private async attempt(item: OutboxItem, base: Pick<ProposalRecord, 'kind' | 'branch' | 'attempts' | 'updatedAt'>): Promise<Step> {
    const done = (record: ProposalRecord, outcome: ProposalOutcome, watch = false): Step => ({ record, outcome, dueAt: null, watch, status: 'done' });
    const s = this.d.settings;
    const branch = branchOfPayload(item.payload, s);
    if (item.kind === 'promote' && !s.proposePromotions) {
      return done({ ...base, status: 'nothing_to_propose', reason: 'promotion proposals are off (GERRIT_PROPOSE_PROMOTIONS)' }, 'skipped');
    }
    if (item.kind === 'exclude') {
      const asked = item.payload.options?.exclude;
      if (asked === false) return done({ ...base, status: 'nothing_to_propose', reason: 'the rollback asked for no exclusion' }, 'skipped');
      if (asked === undefined && !s.proposeExclusion) return done({ ...base, status: 'nothing_to_propose', reason: 'exclusion proposals are off (GERRIT_PROPOSE_EXCLUSION)' }, 'skipped');
    }
    const viaGerrit = this.d.client !== null && s.branches.includes(branch);
    if (!viaGerrit) {
      const why = this.d.client ? `${branch} is not one of GERRIT_BRANCHES (${s.branches.join(', ')})` : 'Gerrit is not configured (GERRIT_URL)';
      if (item.kind === 'exclude') {
        return done({ ...base, status: 'nothing_to_propose', reason: `${why}; the requirements file is only edited through Gerrit`, baseRevision: null }, 'nothing_to_propose');
      }
      const text = await this.d.readLocalBase(branch);
      const p = buildFrom(item.kind, item.payload, { constraints: text, requirements: null }, { ...s, requirementsPath: null }, this.d.rolloutUrl(item.rolloutId), { signedOffBy: s.signedOffBy });
      if (!p.propose) return done({ ...base, status: 'nothing_to_propose', reason: p.reason, baseRevision: null }, 'nothing_to_propose');
      return done({
        ...base, status: 'not_sent', reason: `${why}; the change is shown as a patch of the ${branch} base`,
        subject: p.subject, message: p.message, patch: p.patch, files: p.files.map((f) => f.path), baseRevision: null,
      }, 'not_sent');
    }
    const d: Delivery = await deliver(
      { client: this.d.client!, settings: s, logger: this.d.logger, rolloutUrl: this.d.rolloutUrl, signedOffBy: () => this.signedOffBy() },
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

  private failure(item: OutboxItem, base: Pick<ProposalRecord, 'kind' | 'branch' | 'attempts' | 'updatedAt'>, e: unknown): Step {
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
