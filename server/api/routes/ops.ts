import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { StoreHealth } from '../../store/health';
import type { DcRedis } from '../../store/redis';

/**
 * `/healthz`: the process is up and its store answered the last probe (503 while Redis is
 * unreachable or the embedded redis-server is being restarted, so a liveness probe sees the
 * outage). `/readyz`: Redis answers a PING now.
 */
export function opsRoutes(redis: DcRedis, metrics: Metrics, beforeScrape: () => Promise<void>, health?: StoreHealth): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    const s = health?.current();
    if (!s || s.ok) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'unavailable', redis: s.redis, since: s.since });
  });
  r.get('/readyz', async (_req, res) => {
    try {
      await Promise.race([redis.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 1000))]);
      res.json({ status: 'ready', redis: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable', redis: 'unreachable' });
    }
  });
  r.get('/metrics', async (_req, res) => {
    await beforeScrape().catch(() => undefined);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return r;
}
