import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import type { ConstraintsService } from '../services/constraints';
import type { PinsCache } from '../services/pins-cache';
import type { ReportService } from '../services/reports';
import type { RateLimits } from '../services/rate-limits';
import type { RolloutService } from '../services/rollouts';
import type { StoreHealth } from '../store/health';
import type { EnrolmentStore } from '../store/enrolment-store';
import type { DcRedis } from '../store/redis';
import type { RolloutStore } from '../store/rollout-store';
import type { TelemetryStore } from '../store/telemetry-store';
import type { TokenStore } from '../store/token-store';
import { errorHandler, notFoundHandler } from './errors';
import { adminRoutes } from './routes/admin';
import { enrolRoutes } from './routes/enrol';
import { opsRoutes } from './routes/ops';
import { pinsRoutes } from './routes/pins';
import { reportRoutes } from './routes/reports';
import { rolloutRoutes } from './routes/rollouts';

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  redis: DcRedis;
  pins: PinsCache;
  rollouts: RolloutService;
  rolloutStore: RolloutStore;
  reports: ReportService;
  telemetry: TelemetryStore;
  constraints: ConstraintsService;
  tokens: TokenStore;
  enrolments: EnrolmentStore;
  /** Refreshes gauges before a scrape. */
  beforeScrape: () => Promise<void>;
  /** Extra routers (dashboard, Gerrit admin) mounted before the 404 handler. */
  extra?: express.Router[];
  /** The store's last known state, for /healthz. */
  health?: StoreHealth;
  /** Express `trust proxy` (DEPCANARY_TRUST_PROXY): which hops' X-Forwarded-For is believed. */
  trustProxy?: boolean | number | string[];
  /** Per-address limits (reports, failed auth); read by routes and auth as `req.limits`. */
  limits?: RateLimits;
}

export const BODY_LIMIT = '256kb';

export function createApp(d: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', d.trustProxy ?? false);
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.path);
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      d.metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, secs);
    });
    next();
  });
  app.use((req, _res, next) => {
    req.limits = d.limits;
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT }));
  app.use(opsRoutes(d.redis, d.metrics, d.beforeScrape, d.health));
  app.use(pinsRoutes(d.pins, d.metrics));
  app.use(reportRoutes(d.reports, d.telemetry, d.tokens, d.metrics, d.enrolments));
  app.use(enrolRoutes(d.enrolments, d.tokens, d.metrics));
  app.use(rolloutRoutes(d.rollouts, d.rolloutStore, d.tokens));
  app.use(adminRoutes(d.constraints, d.tokens, d.pins));
  for (const r of d.extra ?? []) app.use(r);
  app.use(notFoundHandler);
  app.use(errorHandler(d.logger));
  return app;
}
