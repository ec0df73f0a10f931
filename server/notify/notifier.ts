import { classify, cloudEvent, matches } from '../domain/notify-events';
import type { RolloutEvent } from '../domain/rollout';
import { backoffMs, type BackoffPolicy } from '../gerrit/backoff';
import { Outbox } from '../gerrit/outbox';
import { keys } from '../store/keys';
import { refusalOf } from '../store/refusals';
import type { DcRedis } from '../store/redis';
import type { RolloutStore } from '../store/rollout-store';
import { sign } from './signing';
import type { Delivery, Webhook } from './types';

/**
 * Webhooks, at least once (docs/operations.md, "Webhooks"):
 *  1. every audit event is on `<prefix>:feed`, written in the same Lua step as the change it
 *     records (transition, create, record, event scripts);
 *  2. fan-out: the feed is read after `<prefix>:feed:cursor`; each event a webhook's filters
 *     take becomes a delivery in the outbox's webhooks lane, and the cursor moves past the
 *     range in one Lua step (fanout.lua; HSETNX by `<webhook>:<entry id>`, so a range done
 *     twice by two processes enqueues nothing twice);
 *  3. delivery: the outbox's claim/complete scripts (a lease per attempt), POST with the
 *     Standard Webhooks headers, retried with jittered exponential backoff (Retry-After
 *     honoured) until a 2xx, up to `maxAttempts`; 410 Gone fails at once. A failed or
 *     delivered one can be sent again (`POST /v1/webhooks/deliveries/:id/redeliver`);
 *  4. the newest DEFAULT_DELIVERIES_KEPT deliveries are kept; older finished ones are pruned.
 * Secrets are only read to sign; errors and logs name the webhook, never its secret.
 */
export interface NotifierDeps {
  redis: DcRedis;
  prefix: string;
  store: RolloutStore;
  webhooks: Webhook[];
  /** CloudEvents `source`: DEPCANARY_PUBLIC_URL, or urn:depcanary. */
  source: string;
  rolloutUrl: (id: string) => string | null;
  timeoutMs: number;
  backoff?: BackoffPolicy;
  maxAttempts?: number;
  /** Deliveries kept (default DEFAULT_DELIVERIES_KEPT). */
  keep?: number;
  now?: () => number;
  random?: () => number;
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  metrics: { delivered(webhook: string, outcome: 'delivered' | 'retry' | 'failed'): void };
}

export const DEFAULT_WEBHOOK_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 3_600_000 };
/** Deliveries kept for `depcanary webhooks` and redelivery; older finished ones are pruned. */
export const DEFAULT_DELIVERIES_KEPT = 10_000;
const BATCH = 200;

export class Notifier {
  readonly outbox: Outbox<Delivery>;
  private readonly k;
  private readonly now: () => number;

  constructor(private readonly d: NotifierDeps) {
    this.outbox = new Outbox<Delivery>(d.redis, d.prefix, 'webhooks');
    this.k = keys(d.prefix);
    this.now = d.now ?? Date.now;
  }

  /** A first start takes the feed from its end (webhooks are not sent the past). */
  async init(): Promise<void> {
    const last = await this.d.redis.xrevrange(this.k.feed, '+', '-', 'COUNT', 1);
    await this.d.redis.set(this.k.feedCursor, last[0]?.[0] ?? '0-0', 'NX');
  }

  /** Fans one range of the feed out to deliveries; returns how many were enqueued (0 when nothing new). */
  async fanOut(): Promise<number> {
    const cursor = (await this.d.redis.get(this.k.feedCursor)) ?? '';
    const entries = await this.d.redis.xrange(this.k.feed, cursor === '' ? '-' : `(${cursor}`, '+', 'COUNT', BATCH);
    if (entries.length === 0) return 0;
    const args: string[] = [];
    const rollouts = new Map<string, Awaited<ReturnType<RolloutStore['get']>>>();
    for (const [feedId, fields] of entries) {
      let e: RolloutEvent;
      try {
        e = JSON.parse(fields[1] ?? 'null') as RolloutEvent;
      } catch {
        continue;
      }
      const n = e && classify(e);
      if (!n) continue;
      if (!rollouts.has(e.rolloutId)) rollouts.set(e.rolloutId, await this.d.store.get(e.rolloutId));
      const rec = rollouts.get(e.rolloutId);
      if (!rec) continue;
      const r = rec.rollout;
      for (const w of this.d.webhooks) {
        if (!matches(w, { ...n, library: r.library })) continue;
        const ce = cloudEvent(feedId, e, r, n, { source: this.d.source, rolloutUrl: this.d.rolloutUrl(r.id) });
        const delivery: Delivery = {
          id: `${w.name}:${feedId}`, webhook: w.name, msgId: ce.id, type: n.type, severity: n.severity, rolloutId: r.id, library: r.library,
          body: JSON.stringify(ce), createdAt: this.now(), attempts: 0, status: 'pending',
        };
        args.push(delivery.id, JSON.stringify(delivery));
      }
    }
    const last = entries[entries.length - 1]![0];
    const n = await this.d.redis.dc_fanout(this.k.feedCursor, this.k.webhookItems, this.k.webhookDue, cursor, last, this.now(), ...args);
    return refusalOf(n) === 'CONFLICT' ? 0 : n;
  }

  /** Drops the oldest finished deliveries beyond the ones kept (pending ones are never dropped). */
  prune(): Promise<number> {
    return this.outbox.prune(this.d.keep ?? DEFAULT_DELIVERIES_KEPT);
  }

  /** Delivers what is due; returns how many attempts ran. */
  async deliverDue(max = 50): Promise<number> {
    let n = 0;
    for (; n < max; n++) {
      const claim = await this.outbox.claim(this.now(), Math.max(60_000, this.d.timeoutMs * 2));
      if (!claim) break;
      await this.attempt(claim.item, claim.token);
    }
    return n;
  }

  private async attempt(item: Delivery, token: string): Promise<void> {
    const w = this.d.webhooks.find((x) => x.name === item.webhook);
    const attempts = (item.attempts ?? 0) + 1;
    const at = this.now();
    const log = { webhook: item.webhook, delivery: item.id, type: item.type, attempts };
    if (!w) {
      await this.outbox.complete(item.id, token, { ...item, attempts, status: 'failed', lastError: `webhook ${item.webhook} is no longer configured`, lastAttemptAt: at }, null, false);
      this.d.metrics.delivered(item.webhook, 'failed');
      return;
    }
    const ts = Math.floor(at / 1000);
    let status = 0;
    let error: string | undefined;
    let retryAfterMs: number | null = null;
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/cloudevents+json; charset=utf-8',
          'user-agent': 'depcanary-webhooks/1',
          'webhook-id': item.msgId,
          'webhook-timestamp': String(ts),
          'webhook-signature': sign(w.secret, item.msgId, ts, item.body),
        },
        body: item.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.d.timeoutMs),
      });
      status = res.status;
      retryAfterMs = retryAfter(res.headers.get('retry-after'), at);
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      error = err.name === 'TimeoutError' ? `no answer within ${this.d.timeoutMs} ms` : (err.cause?.code ?? err.message).slice(0, 300);
    }
    const base = { ...item, attempts, lastAttemptAt: at, lastStatus: status || undefined };
    if (!error) {
      await this.outbox.complete(item.id, token, { ...base, status: 'delivered', deliveredAt: at, lastError: undefined, nextAttemptAt: undefined }, null, false);
      this.d.metrics.delivered(w.name, 'delivered');
      this.d.logger.info({ ...log, status }, 'webhook delivered');
      return;
    }
    const max = this.d.maxAttempts ?? 15;
    if (status === 410 || attempts >= max) {
      const why = status === 410 ? `${error}: the endpoint is gone; not retried` : `${error}; gave up after ${attempts} attempts`;
      await this.outbox.complete(item.id, token, { ...base, status: 'failed', lastError: why, nextAttemptAt: undefined }, null, false);
      this.d.metrics.delivered(w.name, 'failed');
      this.d.logger.error({ ...log, status, err: why }, 'webhook delivery failed');
      return;
    }
    const due = at + Math.min(Math.max(backoffMs(attempts, this.d.backoff ?? DEFAULT_WEBHOOK_BACKOFF, this.d.random), retryAfterMs ?? 0), 24 * 3_600_000);
    await this.outbox.complete(item.id, token, { ...base, status: 'pending', lastError: error, nextAttemptAt: due }, due, false);
    this.d.metrics.delivered(w.name, 'retry');
    this.d.logger.warn({ ...log, status, err: error, nextAttemptAt: due }, 'webhook delivery failed; retrying');
  }
}

/** `Retry-After: <seconds>` or an HTTP date, as ms from `now`; null when absent or unreadable. */
export function retryAfter(v: string | null, now: number): number | null {
  if (!v) return null;
  if (/^\d{1,7}$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}
