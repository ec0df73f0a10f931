import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { DcRedis } from '../../store/redis';

export function opsRoutes(redis: DcRedis, metrics: Metrics, beforeScrape: () => Promise<void>): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
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
