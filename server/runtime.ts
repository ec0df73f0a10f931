import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { createApp } from './api/app';
import { fastPins } from './api/fast-pins';
import type { Config } from './config';
import { outboxFor } from './gerrit/outbox-item';
import { createMetrics, type Metrics } from './metrics';
import { ConstraintsService } from './services/constraints';
import { PinsCache } from './services/pins-cache';
import { ReportService } from './services/reports';
import { RolloutService } from './services/rollouts';
import { BaseStore } from './store/base-store';
import { startEmbeddedRedis, type EmbeddedRedis } from './store/embedded-redis';
import { createRedis, type DcRedis } from './store/redis';
import { RolloutStore } from './store/rollout-store';
import { TelemetryStore } from './store/telemetry-store';
import { TokenStore } from './store/token-store';
import { staticTokens } from './tokens-file';

/** Everything a running server holds; plugins (controller, Gerrit, dashboard) hang off it. */
export interface Runtime {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  redis: DcRedis;
  rolloutStore: RolloutStore;
  telemetry: TelemetryStore;
  baseStore: BaseStore;
  tokens: TokenStore;
  pins: PinsCache;
  rollouts: RolloutService;
  reports: ReportService;
  constraints: ConstraintsService;
  /** A new Redis connection to the same server (subscribers need their own). */
  newConnection(): DcRedis;
}

export interface Extension {
  /** Called once the stores exist, before the HTTP server listens. */
  start(rt: Runtime): Promise<{ routers?: Router[]; stop(): Promise<void> }> | { routers?: Router[]; stop(): Promise<void> };
}

export interface RunningServer {
  url: string;
  runtime: Runtime;
  embeddedRedis: EmbeddedRedis | null;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, extensions: Extension[] = []): Promise<RunningServer> {
  let embedded: EmbeddedRedis | null = null;
  let target: { url?: string; socket?: string } = config.redisUrl?.startsWith('unix://')
    ? { socket: config.redisUrl.slice('unix://'.length) }
    : { url: config.redisUrl };
  if (!config.redisUrl) {
    embedded = await startEmbeddedRedis({ dir: join(config.dataDir, 'redis'), appendfsync: config.redisFsync });
    target = { socket: embedded.socket };
    logger.info({ socket: embedded.socket, fsync: config.redisFsync }, 'started embedded redis-server');
  }
  const redis = createRedis(target);
  const connections: DcRedis[] = [];
  const newConnection = () => {
    const c = createRedis(target);
    c.on('error', (e) => logger.warn({ err: e.message }, 'redis error'));
    connections.push(c);
    return c;
  };
  const subscriber = createRedis(target);
  redis.on('error', (e) => logger.warn({ err: e.message }, 'redis error'));
  subscriber.on('error', (e) => logger.warn({ err: e.message }, 'redis subscriber error'));
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    await redis.ping();
    const p = config.keyPrefix;
    const metrics = createMetrics();
    const rolloutStore = new RolloutStore(redis, p);
    const telemetry = new TelemetryStore(redis, p);
    const baseStore = new BaseStore(redis, p);
    const tokens = new TokenStore(redis, p, staticTokens(config.adminToken, config.tokensFile));
    const pins = new PinsCache(redis, subscriber, p, rolloutStore, baseStore, logger, config.pinsRefreshMs);
    const constraints = new ConstraintsService(baseStore, pins);
    const rt: Runtime = {
      config, logger, metrics, redis, rolloutStore, telemetry, baseStore, tokens, pins, constraints, newConnection,
      // Every rollback and promotion writes its Gerrit outbox item in the same Lua step.
      rollouts: new RolloutService(rolloutStore, telemetry, pins, config.policy, Date.now, outboxFor),
      reports: new ReportService(telemetry, pins),
    };
    await pins.start();
    cleanup.push(async () => pins.stop());
    const imported = await constraints.importAtStart(config.constraintsFile);
    logger.info({ file: config.constraintsFile, action: imported }, 'base constraints');

    const routers: Router[] = [];
    for (const ext of extensions) {
      const started = await ext.start(rt);
      routers.push(...(started.routers ?? []));
      cleanup.unshift(() => started.stop());
    }
    const app = createApp({
      logger, metrics, redis, pins, rollouts: rt.rollouts, rolloutStore, reports: rt.reports, telemetry,
      constraints, tokens, extra: routers, beforeScrape: () => refreshGauges(rt),
    });
    const fast = fastPins(pins, metrics);
    const server: Server = createServer((req, res) => {
      if (!fast(req, res)) app(req, res);
    });
    server.listen(config.port, config.host);
    await once(server, 'listening');
    server.keepAliveTimeout = 65_000;
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    let closing: Promise<void> | null = null;
    return {
      url,
      runtime: rt,
      embeddedRedis: embedded,
      close() {
        closing ??= (async () => {
          server.closeAllConnections();
          await new Promise<void>((res) => server.close(() => res()));
          for (const c of cleanup) await c().catch((e) => logger.warn({ err: String(e) }, 'shutdown step failed'));
          subscriber.disconnect();
          for (const c of connections) c.disconnect();
          await redis.quit().catch(() => redis.disconnect());
          await embedded?.stop();
        })();
        return closing;
      },
    };
  } catch (e) {
    for (const c of cleanup) await c().catch(() => undefined);
    subscriber.disconnect();
    for (const c of connections) c.disconnect();
    redis.disconnect();
    await embedded?.stop();
    throw e;
  }
}

async function refreshGauges(rt: Runtime): Promise<void> {
  const all = await rt.rolloutStore.list();
  rt.metrics.rolloutsByState.reset();
  for (const s of ['active', 'paused', 'promoted', 'rolled_back', 'superseded']) rt.metrics.rolloutsByState.set({ state: s }, 0);
  for (const r of all) rt.metrics.rolloutsByState.inc({ state: r.rollout.state });
  rt.metrics.stagePercent.reset();
  for (const l of rt.pins.current().live) rt.metrics.stagePercent.set({ library: l.library }, l.percent);
}
