import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import { requireRole } from '../api/auth';
import { fromZod, HttpError } from '../api/errors';
import type { Config } from '../config';
import { rolloutLink } from '../gerrit/start';
import type { Extension } from '../runtime';
import type { TokenStore } from '../store/token-store';
import { Notifier } from './notifier';
import { webhookSecret } from './signing';
import type { Webhook } from './types';

/**
 * Outgoing webhooks as a server extension: the configured webhooks (DEPCANARY_WEBHOOKS or
 * DEPCANARY_WEBHOOKS_FILE), the notifier's loop (only when one is configured), metrics and
 * the routes:
 *   GET  /v1/webhooks                              (viewer) configured webhooks (never secrets)
 *   GET  /v1/webhooks/deliveries[?webhook=&status=] (viewer) deliveries, newest first
 *   GET  /v1/webhooks/deliveries/:id               (viewer) one delivery with its body
 *   POST /v1/webhooks/deliveries/:id/redeliver     (admin)  send it again (due now)
 */
export interface NotifyExtensionOptions {
  pollMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  maxAttempts?: number;
  /** Deliveries kept (tests); default 10,000. */
  keep?: number;
  onStart?: (n: Notifier) => void;
}

export function loadWebhooks(config: Pick<Config, 'webhooks' | 'webhooksFile'>): Webhook[] {
  let entries = config.webhooks;
  if (config.webhooksFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(config.webhooksFile, 'utf8'));
    } catch (e) {
      throw new Error(`DEPCANARY_WEBHOOKS_FILE: cannot read ${config.webhooksFile} as JSON (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`);
    }
    const list = z.array(z.looseObject({})).safeParse(parsed);
    if (!list.success) throw new Error(`DEPCANARY_WEBHOOKS_FILE: ${config.webhooksFile} must hold a JSON array of webhooks`);
    entries = [...entries, ...(list.data as typeof entries)];
  }
  const names = new Set<string>();
  return entries.map((w) => {
    const where = `DEPCANARY_WEBHOOKS: webhook "${String(w.name).slice(0, 60)}"`;
    if (names.has(w.name)) throw new Error(`${where}: the name is used twice`);
    names.add(w.name);
    if ((w.secret === undefined) === (w.secretFile === undefined)) throw new Error(`${where}: give exactly one of secret and secretFile`);
    let raw = w.secret;
    if (w.secretFile) {
      try {
        raw = readFileSync(w.secretFile, 'utf8').trim();
      } catch (e) {
        throw new Error(`${where}: cannot read secretFile ${w.secretFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    let secret;
    try {
      secret = webhookSecret(raw!);
    } catch (e) {
      throw new Error(`${where}: the secret ${(e as Error).message}`);
    }
    if (typeof w.url !== 'string' || !/^https?:\/\//.test(w.url)) throw new Error(`${where}: url must be an http(s) URL`);
    return { name: w.name, url: w.url, secret, events: w.events, libraries: w.libraries, minSeverity: w.minSeverity ?? 'info' };
  });
}

/** A webhook's URL without its query or credentials (they may carry a token). */
function shownUrl(u: string): string {
  const url = new URL(u);
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}

export function notifyExtension(opts: NotifyExtensionOptions = {}): Extension {
  return {
    async start(rt) {
      const webhooks = loadWebhooks(rt.config);
      const logger = rt.logger.child({ component: 'webhooks' });
      const registry = rt.metrics.registry;
      const deliveries = new Counter({
        name: 'depcanary_webhook_deliveries_total', help: 'Webhook delivery attempts, by webhook and outcome (delivered, retry, failed)',
        labelNames: ['webhook', 'outcome'] as const, registers: [registry],
      });
      const notifier = new Notifier({
        redis: rt.redis, prefix: rt.config.keyPrefix, store: rt.rolloutStore, webhooks,
        source: rt.config.publicUrl ?? 'urn:depcanary', rolloutUrl: (id) => rolloutLink(rt.config.publicUrl, id),
        timeoutMs: rt.config.webhookTimeoutMs, backoff: opts.backoff, maxAttempts: opts.maxAttempts, keep: opts.keep, logger,
        metrics: { delivered: (webhook, outcome) => deliveries.inc({ webhook, outcome }) },
      });
      new Gauge({
        name: 'depcanary_webhook_pending', help: 'Webhook deliveries not finished yet (due now or later)', registers: [registry],
        async collect() {
          this.set(await notifier.outbox.pendingCount().catch(() => 0));
        },
      });
      let timer: NodeJS.Timeout | null = null;
      let running: Promise<unknown> = Promise.resolve();
      if (webhooks.length > 0) {
        await notifier.init();
        let busy = false;
        const pass = () => {
          if (busy) return;
          busy = true;
          running = notifier.fanOut().then(() => notifier.deliverDue()).then(() => notifier.prune())
            .catch((e: Error) => logger.warn({ err: e.message }, 'webhook pass failed; retrying'))
            .finally(() => { busy = false; });
        };
        timer = setInterval(pass, opts.pollMs ?? 500);
        timer.unref();
        logger.info({ webhooks: webhooks.map((w) => ({ name: w.name, url: shownUrl(w.url) })) }, 'webhooks on');
      }
      opts.onStart?.(notifier);
      return {
        routers: [webhookRoutes(notifier, webhooks, rt.tokens)],
        async stop() {
          if (timer) clearInterval(timer);
          await running;
        },
      };
    },
  };
}

const deliveryId = z.string().regex(/^[A-Za-z0-9._-]{1,60}:\d{1,15}-\d{1,10}$/, 'a delivery id like <webhook>:<feed entry id>');
const listQuery = z.strictObject({
  webhook: z.string().regex(/^[A-Za-z0-9._-]{1,60}$/).optional(),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

function webhookRoutes(n: Notifier, webhooks: Webhook[], tokens: TokenStore, now: () => number = Date.now): Router {
  const r = Router();
  const viewer = requireRole(tokens, 'viewer');
  r.get('/v1/webhooks', viewer, (_req, res) => {
    res.json({ webhooks: webhooks.map((w) => ({ name: w.name, url: shownUrl(w.url), events: w.events ?? null, libraries: w.libraries ?? null, minSeverity: w.minSeverity })) });
  });
  r.get('/v1/webhooks/deliveries', viewer, async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) throw fromZod(q.error);
    // Filtered before the limit, so `?status=failed` finds failures older than the newest page.
    const all = await n.outbox.list(Number.MAX_SAFE_INTEGER);
    const items = all.filter((d) => (!q.data.webhook || d.webhook === q.data.webhook) && (!q.data.status || d.status === q.data.status));
    res.json({ deliveries: items.slice(0, q.data.limit ?? 200).map(({ body: _b, ...rest }) => rest) });
  });
  r.get('/v1/webhooks/deliveries/:id', viewer, async (req, res) => {
    const id = deliveryId.safeParse(req.params.id);
    if (!id.success) throw fromZod(id.error, 'id');
    const d = await n.outbox.get(id.data);
    if (!d) throw new HttpError(404, 'not_found', `no delivery ${id.data}`);
    res.json(d);
  });
  r.post('/v1/webhooks/deliveries/:id/redeliver', requireRole(tokens, 'admin'), async (req, res) => {
    const id = deliveryId.safeParse(req.params.id);
    if (!id.success) throw fromZod(id.error, 'id');
    const body = z.strictObject({ reason: z.string().max(500).optional() }).safeParse(req.body ?? {});
    if (!body.success) throw fromZod(body.error);
    const d = await n.outbox.get(id.data);
    if (!d) throw new HttpError(404, 'not_found', `no delivery ${id.data}`);
    if (d.status === 'pending') throw new HttpError(409, 'conflict', `delivery ${id.data} is still pending (next attempt at ${d.nextAttemptAt ? new Date(d.nextAttemptAt).toISOString() : 'now'})`);
    await n.outbox.requeue(id.data, now());
    res.status(202).json({ id: id.data, status: 'pending' });
  });
  return r;
}
