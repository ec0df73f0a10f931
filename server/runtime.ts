import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { Express, Router } from 'express';
import type { Logger } from 'pino';
import { createApp } from './api/app';
import { fastPins } from './api/fast-pins';
import type { Config } from './config';
import { MASTER } from './domain/branches';
import { resolvePolicy } from './domain/policy';
import { outboxFor } from './gerrit/outbox-item';
import { DEFAULT_INDEX_MAX_BYTES, IndexClient } from './index/client';
import { countFold, createMetrics, type Metrics } from './metrics';
import { ConstraintsService } from './services/constraints';
import { gateSettings } from './services/gate-settings';
import { PinsCache } from './services/pins-cache';
import { RateLimits } from './services/rate-limits';
import { ReportService } from './services/reports';
import { Retention } from './services/retention';
import { RolloutService } from './services/rollouts';
import { BaseStore } from './store/base-store';
import { lockDataDir, type DataDirLock } from './store/data-dir-lock';
import { startEmbeddedRedis, type EmbeddedRedis } from './store/embedded-redis';
import { StoreHealth } from './store/health';
import { legacyReportsUntil, migrateKeys } from './store/key-migration';
import { createRedis, requireRedisVersion, type DcRedis, type RedisTarget } from './store/redis';
import { RolloutStore } from './store/rollout-store';
import { TelemetryStore } from './store/telemetry-store';
import { EnrolmentStore } from './store/enrolment-store';
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
  /** Enrolled machines and their credentials (docs/trust.md). */
  enrolments: EnrolmentStore;
  pins: PinsCache;
  rollouts: RolloutService;
  reports: ReportService;
  constraints: ConstraintsService;
  /** Reads Requires-Python from the package index (DEPCANARY_INDEX_URL). */
  index: IndexClient;
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
  /** The express app (route listings for tests); the pins fast path sits in front of it. */
  app: Express;
  /** Resolves when the server cannot go on (its embedded Redis keeps dying): exit non-zero then. */
  fatal: Promise<Error>;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger, extensions: Extension[] = []): Promise<RunningServer> {
  let embedded: EmbeddedRedis | null = null;
  let lock: DataDirLock | null = null;
  let onFatal: (e: Error) => void = () => undefined;
  const fatal = new Promise<Error>((res) => { onFatal = res; });
  let target: RedisTarget = config.redisCluster
    ? { cluster: config.redisCluster.nodes, username: config.redisCluster.username, password: config.redisCluster.password }
    : config.redisUrl?.startsWith('unix://') ? { socket: config.redisUrl.slice('unix://'.length) } : { url: config.redisUrl };
  if (!config.redisUrl && !config.redisCluster) {
    // One server per data dir: the lock first, so a second start never touches the first one's Redis.
    lock = await lockDataDir(config.dataDir);
    try {
      embedded = await startEmbeddedRedis({
        dir: join(config.dataDir, 'redis'),
        appendfsync: config.redisFsync,
        events: {
          exited: (i) => logger.error(i, 'embedded redis-server died; restarting it'),
          restarted: (i) => logger.warn(i, 'embedded redis-server restarted'),
          gaveUp: (e) => {
            logger.fatal({ err: e.message }, 'embedded redis-server keeps dying; giving up');
            onFatal(e);
          },
        },
      });
    } catch (e) {
      await lock.release();
      throw e;
    }
    target = { socket: embedded.socket };
    logger.info({ socket: embedded.socket, fsync: config.redisFsync }, 'started embedded redis-server');
  }
  const redisOptions = { commandTimeout: config.redisTimeoutMs };
  const redis = createRedis(target, redisOptions);
  const connections: DcRedis[] = [];
  const newConnection = () => {
    const c = createRedis(target, redisOptions);
    logErrorsOnce(c, 'redis error');
    connections.push(c);
    return c;
  };
  const subscriber = createRedis(target, redisOptions);
  const health = new StoreHealth(redis, logger, embedded);
  // One warning per outage and connection (reconnect attempts repeat the error every second or so).
  const logErrorsOnce = (c: DcRedis, msg: string) => {
    let quiet = false;
    c.on('error', (e) => {
      if (quiet) return logger.debug({ err: e.message }, msg);
      quiet = true;
      logger.warn({ err: e.message }, msg);
    });
    c.on('ready', () => { quiet = false; });
  };
  logErrorsOnce(redis, 'redis error');
  logErrorsOnce(subscriber, 'redis subscriber error');
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    await redis.ping();
    await requireRedisVersion(redis);
    const p = config.keyPrefix;
    const metrics = createMetrics();
    const rolloutStore = new RolloutStore(redis, p);
    const telemetry = new TelemetryStore(redis, p);
    telemetry.onFold = (e) => countFold(metrics, e);
    const baseStore = new BaseStore(redis, p);
    const tokens = new TokenStore(redis, p, staticTokens(config.adminToken, config.tokensFile), config.publicRead ? 'viewer' : null);
    const enrolments = new EnrolmentStore(redis, p);
    const pythons = config.pythonVersions ?? null;
    const pins = new PinsCache(redis, subscriber, p, rolloutStore, baseStore, logger, config.pinsRefreshMs, pythons);
    const constraints = new ConstraintsService(baseStore, pins, Date.now, pythons);
    const index = new IndexClient({ url: config.index.url === 'off' ? null : config.index.url, timeoutMs: config.index.timeoutMs, maxBytes: DEFAULT_INDEX_MAX_BYTES });
    const rt: Runtime = {
      config, logger, metrics, redis, rolloutStore, telemetry, baseStore, tokens, enrolments, pins, constraints, index, newConnection,
      // Every rollback and promotion writes its Gerrit outbox items in the same Lua step.
      rollouts: new RolloutService(rolloutStore, telemetry, pins, config.policy, Date.now, outboxFor, index, baseStore, gateSettings(config)),
      reports: new ReportService(telemetry, pins, Date.now, fleetCaps(config), config.ingestParts),
    };
    await migrateKeys(redis, p, logger);
    telemetry.legacyReportsUntil = await legacyReportsUntil(redis, p);
    await baseStore.migrate();
    await rolloutStore.migrate();
    await pins.start();
    cleanup.push(async () => pins.stop());
    const retention = new Retention(rolloutStore, telemetry, config.retentionDays, logger);
    retention.start();
    cleanup.push(async () => retention.stop());
    for (const [branch, file] of [[MASTER, config.constraintsFile], ...Object.entries(config.branchFiles)] as [string, string][]) {
      let imported;
      try {
        imported = await constraints.importAtStart(branch, file);
      } catch (e) {
        // "NAME: cannot read <path>: ..." or "NAME <path>: <why the file is refused>".
        const msg = (e as Error).message;
        throw new Error(`${branch === MASTER ? 'DEPCANARY_CONSTRAINTS_FILE' : `DEPCANARY_BRANCH_FILES (${branch})`}${msg.startsWith('cannot read') ? ':' : ''} ${msg}`);
      }
      if (imported.action === 'refused') logger.warn({ branch, file, reason: imported.reason }, 'the constraints file changed but was refused; the stored base is kept');
      else logger.info({ branch, file, action: imported.action }, 'base constraints');
    }

    const routers: Router[] = [];
    for (const ext of extensions) {
      const started = await ext.start(rt);
      routers.push(...(started.routers ?? []));
      cleanup.unshift(() => started.stop());
    }
    const app = createApp({
      logger, metrics, redis, pins, rollouts: rt.rollouts, rolloutStore, reports: rt.reports, telemetry,
      constraints, tokens, enrolments, extra: routers, beforeScrape: () => refreshGauges(rt), health, trustProxy: config.trustProxy,
      limits: new RateLimits(redis, p, {
        'reports-per-address': { points: config.limits.reportsPerMinute, windowSeconds: 60 },
        'auth-failures-per-address': { points: config.limits.authFailuresPerMinute, windowSeconds: 60, blockSeconds: config.limits.authBlockSeconds },
        // per source and address block (docs/trust.md)
        'reports-per-source': { points: config.limits.reportsPerSourcePerMinute, windowSeconds: 60 },
        'auth-failures-per-block': { points: config.limits.authFailuresPerBlockPerMinute, windowSeconds: 60, blockSeconds: config.limits.authBlockSeconds },
        'enrolments-per-address': { points: config.limits.enrolmentsPerAddressPerHour, windowSeconds: 3600 },
        'enrolments-per-block': { points: config.limits.enrolmentsPerBlockPerHour, windowSeconds: 3600 },
      }, logger),
    });
    const fast = fastPins(pins, metrics);
    const server: Server = createServer({
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // How often the two timeouts above are checked (Node's default is every 30 s).
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    }, (req, res) => {
      res.setHeader('x-content-type-options', 'nosniff');
      if (!fast(req, res)) app(req, res);
    });
    server.maxConnections = config.maxConnections;
    server.on('clientError', answerClientError);
    health.start();
    cleanup.push(async () => health.stop());
    server.listen(config.port, config.host);
    await once(server, 'listening');
    server.keepAliveTimeout = 65_000;
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    lock?.describe({ url });
    let closing: Promise<void> | null = null;
    return {
      url,
      runtime: rt,
      embeddedRedis: embedded,
      app,
      fatal,
      close() {
        closing ??= (async () => {
          server.closeAllConnections();
          await new Promise<void>((res) => server.close(() => res()));
          // The steps share one time budget: with Redis gone or stalled, stopping must still be quick.
          const deadline = Date.now() + STOP_BUDGET_MS;
          for (const c of cleanup) await bounded(c(), deadline).catch((e) => logger.warn({ err: String(e) }, 'shutdown step failed'));
          subscriber.disconnect();
          for (const c of connections) c.disconnect();
          if (redis.status === 'ready' && health.current().ok) await bounded(redis.quit(), deadline).catch(() => undefined);
          redis.disconnect();
          await embedded?.stop();
          await lock?.release();
        })();
        return closing;
      },
    };
  } catch (e) {
    const deadline = Date.now() + STOP_BUDGET_MS;
    for (const c of cleanup) await bounded(c(), deadline).catch(() => undefined);
    subscriber.disconnect();
    for (const c of connections) c.disconnect();
    redis.disconnect();
    await embedded?.stop();
    await lock?.release();
    throw e;
  }
}

/** The fleet history's caps per machine and per source: the server's default policy's. */
function fleetCaps(config: Config): { machine: number; source: number } {
  const p = resolvePolicy(2, config.policy);
  return { machine: p.cap, source: p.sourceCap };
}

/** How long close() waits, in all, for extensions and caches to stop before it lets go of Redis. */
const STOP_BUDGET_MS = 3000;

function bounded<T>(p: Promise<T>, deadline: number): Promise<T> {
  let t: NodeJS.Timeout;
  const ms = Math.max(0, deadline - Date.now());
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error('did not finish in time')), ms); })]).finally(() => clearTimeout(t));
}

/**
 * Requests Node's parser rejects (malformed, headers too large, too slow) get the API's JSON
 * error body instead of a bare status line; then the connection closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'bad_request', 'request headers are too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request was not received in time']
      : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`);
}

async function refreshGauges(rt: Runtime): Promise<void> {
  rt.metrics.pinsVersion.set(rt.pins.current().version);
  const all = await rt.rolloutStore.list();
  rt.metrics.rolloutsByState.reset();
  for (const s of ['active', 'paused', 'promoted', 'rolled_back', 'superseded', 'abandoned']) rt.metrics.rolloutsByState.set({ state: s }, 0);
  for (const r of all) rt.metrics.rolloutsByState.inc({ state: r.rollout.state });
  rt.metrics.stagePercent.reset();
  for (const l of rt.pins.current().live) rt.metrics.stagePercent.set({ library: l.library, branch: l.branch }, l.percent);
  let backlog = 0;
  for (const n of (await rt.telemetry.backlog(rt.pins.current().live.map((l) => l.id))).values()) backlog += n;
  rt.metrics.foldBacklog.set(backlog);
}
