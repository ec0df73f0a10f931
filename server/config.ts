import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { policyOverride } from './api/schemas';
import { branchOfFileName } from './domain/branches';

/**
 * The server's settings, from an optional JSON file (DEPCANARY_CONFIG) overlaid by env.
 * A bad setting stops the start with a message naming it.
 */
/** A yes/no setting: a JSON boolean, or one of these words (env values are lower-cased first). */
const flag = z.union([z.boolean(), z.enum(['0', '1', 'true', 'false', 'on', 'off', 'yes', 'no']).transform((v) => ['1', 'true', 'on', 'yes'].includes(v))], { error: 'must be one of 1, 0, true, false, on, off, yes, no' });

/**
 * Express `trust proxy`: off, a hop count, or a comma list of addresses, CIDR blocks and the
 * names loopback / linklocal / uniquelocal (never "trust everyone": X-Forwarded-For is spoofable).
 */
const trustProxy = z.union([z.number().int().min(0).max(10), z.string()]).transform((v, ctx) => {
  const s = String(v).trim().toLowerCase();
  if (['', '0', 'false', 'off', 'no'].includes(s)) return false;
  if (/^\d+$/.test(s) && Number(s) <= 10) return Number(s);
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  const ok = (x: string) => ['loopback', 'linklocal', 'uniquelocal'].includes(x) || (() => {
    const [addr, bits, ...rest] = x.split('/');
    const fam = isIP(addr ?? '');
    return fam !== 0 && rest.length === 0 && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (fam === 4 ? 32 : 128)));
  })();
  const bad = items.find((x) => !ok(x));
  if (bad !== undefined || items.length === 0) {
    ctx.addIssue({ code: 'custom', message: `"${bad ?? s}" is not a hop count (0-10), an address, a CIDR block, loopback, linklocal or uniquelocal` });
    return z.NEVER;
  }
  return items;
});

const LIMIT_DEFAULTS = {
  reportsPerMinute: 6000, authFailuresPerMinute: 30, authBlockSeconds: 300,
  reportsPerSourcePerMinute: 6000, authFailuresPerBlockPerMinute: 120, enrolmentsPerAddressPerHour: 20, enrolmentsPerBlockPerHour: 200,
};

const schema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  redisUrl: z.string().regex(/^(rediss?:\/\/|unix:\/\/\/)/, 'must start with redis://, rediss:// or unix:///').optional(),
  dataDir: z.string().min(1).default('var'),
  constraintsFile: z.string().min(1).default('data/upper-constraints.txt'),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  tokensFile: z.string().optional(),
  keyPrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).default('dc'),
  publicUrl: z.string().url().optional(),
  redisFsync: z.enum(['always', 'everysec']).default('always'),
  pinsRefreshMs: z.coerce.number().int().min(50).max(60_000).default(500),
  controller: z.strictObject({
    enabled: flag.default(true),
    tickMs: z.coerce.number().int().min(50).max(3_600_000).default(5000),
    debounceMs: z.coerce.number().int().min(0).max(600_000).default(500),
    leaseMs: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  }).default({ enabled: true, tickMs: 5000, debounceMs: 500, leaseMs: 15_000 }),
  policy: policyOverride.optional(),
  /** Read by server/gerrit/config.ts (GERRIT_* env wins); validated there. */
  gerrit: z.record(z.string(), z.unknown()).optional(),
  // --- Server edges (docs/operations.md) ---
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A Redis command not answered within this fails (503 to the client) instead of hanging. */
  redisTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** Report parts (per report: 2, plus 1 per rollout it concerns) counted in Redis at once per process; the other batches wait in the process (services/reports.ts). */
  ingestParts: z.coerce.number().int().min(100).max(1_000_000).default(8000),
  /** Time for a client to send the request headers, and the whole request. */
  headersTimeoutMs: z.coerce.number().int().min(1000).max(300_000).default(10_000),
  requestTimeoutMs: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /** Open connections beyond this are refused (keep it below the process's open-files limit). */
  maxConnections: z.coerce.number().int().min(1).max(1_000_000).default(4096),
  /** Viewer routes and the dashboard answer without a token; everything else still needs one. */
  publicRead: flag.default(false),
  trustProxy: trustProxy.default(false),
  /** Per client address, shared by all replicas through Redis; 0 turns a limit off. */
  limits: z.strictObject({
    reportsPerMinute: z.coerce.number().int().min(0).max(10_000_000).default(6000),
    authFailuresPerMinute: z.coerce.number().int().min(0).max(1_000_000).default(30),
    authBlockSeconds: z.coerce.number().int().min(1).max(86_400).default(300),
    // --- per source and address block (docs/trust.md) ---
    reportsPerSourcePerMinute: z.coerce.number().int().min(0).max(10_000_000).default(6000),
    authFailuresPerBlockPerMinute: z.coerce.number().int().min(0).max(1_000_000).default(120),
    enrolmentsPerAddressPerHour: z.coerce.number().int().min(0).max(1_000_000).default(20),
    enrolmentsPerBlockPerHour: z.coerce.number().int().min(0).max(1_000_000).default(200),
  }).default(LIMIT_DEFAULTS),
  ...constraintsSchema(),
  ...notifySchema(),
  ...scaleSchema(),
});
export type Config = Omit<z.infer<typeof schema>, 'branchFiles'> & {
  /** Branch → absolute path of its constraints file (master's is `constraintsFile`). */
  branchFiles: Record<string, string>;
};

const ENV: Record<string, string> = {
  HOST: 'host',
  PORT: 'port',
  REDIS_URL: 'redisUrl',
  DEPCANARY_DATA_DIR: 'dataDir',
  DEPCANARY_CONSTRAINTS_FILE: 'constraintsFile',
  DEPCANARY_ADMIN_TOKEN: 'adminToken',
  DEPCANARY_TOKENS_FILE: 'tokensFile',
  DEPCANARY_KEY_PREFIX: 'keyPrefix',
  DEPCANARY_PUBLIC_URL: 'publicUrl',
  DEPCANARY_REDIS_FSYNC: 'redisFsync',
  DEPCANARY_PINS_REFRESH_MS: 'pinsRefreshMs',
  // Server edges
  LOG_LEVEL: 'logLevel',
  DEPCANARY_REDIS_TIMEOUT_MS: 'redisTimeoutMs',
  DEPCANARY_INGEST_PARTS: 'ingestParts',
  DEPCANARY_HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
  DEPCANARY_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  DEPCANARY_MAX_CONNECTIONS: 'maxConnections',
  DEPCANARY_PUBLIC_READ: 'publicRead',
  DEPCANARY_TRUST_PROXY: 'trustProxy',
};
const LIMITS_ENV: Record<string, string> = {
  DEPCANARY_LIMIT_REPORTS_PER_MIN: 'reportsPerMinute',
  DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN: 'authFailuresPerMinute',
  DEPCANARY_LIMIT_AUTH_BLOCK_S: 'authBlockSeconds',
  // per source and address block (docs/trust.md)
  DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN: 'reportsPerSourcePerMinute',
  DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN: 'authFailuresPerBlockPerMinute',
  DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR: 'enrolmentsPerAddressPerHour',
  DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR: 'enrolmentsPerBlockPerHour',
};
/** Settings whose env value is a word compared in lower case. */
const LOWER_CASE = new Set(['logLevel', 'publicRead', 'enabled']);
const CONTROLLER_ENV: Record<string, string> = {
  DEPCANARY_CONTROLLER: 'enabled',
  DEPCANARY_CONTROLLER_TICK_MS: 'tickMs',
  DEPCANARY_CONTROLLER_DEBOUNCE_MS: 'debounceMs',
  DEPCANARY_CONTROLLER_LEASE_MS: 'leaseMs',
};

// --- branches, Python support, package index ------------------------------------------------
/**
 * DEPCANARY_BRANCH_FILES   `auto` (default: the upper-constraints-{stable,unmaintained}-<series>.txt
 *                          files beside DEPCANARY_CONSTRAINTS_FILE), `none`, or
 *                          `stable/2025.2=path,stable/2026.1=path` (config file: an object)
 * DEPCANARY_PYTHON_VERSIONS the community's Pythons, `3.10,3.11,3.12,3.13` (default: per branch,
 *                          from its base's markers joined to 3.10-3.13)
 * DEPCANARY_INDEX_URL      simple API of the package index (PEP 691 JSON, PEP 503 HTML), or `off`
 * DEPCANARY_INDEX_TIMEOUT_MS per request to the index
 */
const CONSTRAINTS_ENV: Record<string, string> = {
  DEPCANARY_BRANCH_FILES: 'branchFiles',
  DEPCANARY_PYTHON_VERSIONS: 'pythonVersions',
  DEPCANARY_INDEX_URL: 'index.url',
  DEPCANARY_INDEX_TIMEOUT_MS: 'index.timeoutMs',
};

// --- freeze windows, signoffs, webhooks (docs/operations.md) --------------------------------
/**
 * DEPCANARY_FREEZE_WINDOWS  JSON [{"start": ISO, "end": ISO, "branches"?: [...], "reason"}]: no
 *                           rollout starts or advances automatically inside one
 * DEPCANARY_FREEZE_SCHEDULE paths of openstack/releases series schedules (doc/source/<series>/
 *                           schedule.yaml): requirements freeze (`<x>-rf`) to the release week
 *                           (`<x>-final`) is a freeze window of master
 * DEPCANARY_SIGNOFFS        stage percent = approvals its advance needs, `10=2,50=1` (config: an object)
 * DEPCANARY_WEBHOOKS        JSON [{"name", "url", "secret": "whsec_..." | "secretFile", "events"?,
 *                           "libraries"?, "minSeverity"?}] (or DEPCANARY_WEBHOOKS_FILE, a JSON file)
 * DEPCANARY_WEBHOOK_TIMEOUT_MS per delivery attempt
 */
const NOTIFY_ENV: Record<string, string> = {
  DEPCANARY_FREEZE_WINDOWS: 'freezeWindows',
  DEPCANARY_FREEZE_SCHEDULE: 'freezeSchedules',
  DEPCANARY_SIGNOFFS: 'signoffs',
  DEPCANARY_WEBHOOKS: 'webhooks',
  DEPCANARY_WEBHOOKS_FILE: 'webhooksFile',
  DEPCANARY_WEBHOOK_TIMEOUT_MS: 'webhookTimeoutMs',
};

// --- Redis Cluster, retention (README "Deployment") -------------------------------------------
/**
 * REDIS_CLUSTER              seed nodes of a Redis Cluster, `host:port,host:port,...` (any
 *                            item may be `redis://[user:password@]host:port`; the first
 *                            credentials given are every node's); instead of REDIS_URL
 * DEPCANARY_RETENTION_DAYS   days an ended rollout's evidence keys are kept (its record,
 *                            decisions and audit trail are kept for good)
 */
const SCALE_ENV: Record<string, string> = {
  REDIS_CLUSTER: 'redisCluster',
  DEPCANARY_RETENTION_DAYS: 'retentionDays',
};

export interface ClusterNodes {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
}

function scaleSchema() {
  const clusterNodes = z.union([z.string(), z.array(z.string())]).transform((v, ctx): ClusterNodes => {
    const items = (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim()).filter(Boolean);
    const out: ClusterNodes = { nodes: [] };
    for (const item of items) {
      let u: URL | null = null;
      try {
        u = new URL(/^rediss?:\/\//.test(item) ? item : `redis://${item}`);
      } catch {
        u = null;
      }
      const port = Number(u?.port);
      if (!u || !u.hostname || !Number.isInteger(port) || port < 1 || port > 65535 || (u.pathname !== '' && u.pathname !== '/')) {
        // never echo credentials: only what stands after an "@"
        ctx.addIssue({ code: 'custom', message: `"${item.slice(item.lastIndexOf('@') + 1).slice(0, 80)}" is not host:port` });
        return z.NEVER;
      }
      out.nodes.push({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
      if (out.password === undefined && (u.username || u.password)) {
        if (u.username) out.username = decodeURIComponent(u.username);
        out.password = decodeURIComponent(u.password);
      }
    }
    if (out.nodes.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'names no node: give host:port,host:port,...' });
      return z.NEVER;
    }
    return out;
  });
  return {
    redisCluster: clusterNodes.optional(),
    retentionDays: z.coerce.number({ error: 'must be a number of days' }).int('must be a whole number of days').min(1, 'must be at least 1 day').max(3650, 'must be at most 3650 days').default(30),
  };
}
// --- end Redis Cluster, retention --------------------------------------------------------------

/** Every setting's environment variable, for docs and the bad-settings test. */
export const SETTINGS_ENV = [...Object.keys(ENV), ...Object.keys(CONTROLLER_ENV), ...Object.keys(LIMITS_ENV), ...Object.keys(CONSTRAINTS_ENV), ...Object.keys(NOTIFY_ENV), ...Object.keys(SCALE_ENV), 'DEPCANARY_POLICY', 'DEPCANARY_CONFIG'];

export class ConfigError extends Error {}

function constraintsSchema() {
  // Called while `schema` is built, above: everything it needs is local.
  const python = z.string().regex(/^\d{1,2}\.\d{1,3}$/, 'Python versions like 3.12');
  return {
    branchFiles: z.union([
      z.enum(['auto', 'none']),
      z.record(z.string(), z.string()),
    ]).default('auto'),
    pythonVersions: z.array(python).min(1).max(30).optional(),
    index: z.strictObject({
      url: z.union([z.literal('off'), z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL or off')])
        .default('https://pypi.org/simple/'),
      timeoutMs: z.coerce.number().int().min(100).max(120_000).default(10_000),
    }).default({ url: 'https://pypi.org/simple/', timeoutMs: 10_000 }),
  };
}

/** Env strings of the block → the shapes the schema takes. */
function constraintsFromEnv(env: NodeJS.ProcessEnv, merged: Record<string, unknown>): void {
  const bf = env.DEPCANARY_BRANCH_FILES;
  if (bf !== undefined && bf !== '') {
    merged.branchFiles = bf === 'auto' || bf === 'none'
      ? bf
      : Object.fromEntries(bf.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
        const i = x.indexOf('=');
        return i < 0 ? [x, ''] : [x.slice(0, i).trim(), x.slice(i + 1).trim()];
      }));
  }
  const pv = env.DEPCANARY_PYTHON_VERSIONS;
  if (pv !== undefined && pv !== '') merged.pythonVersions = pv.split(',').map((x) => x.trim()).filter(Boolean);
  const index: Record<string, unknown> = { ...((merged.index as object) ?? {}) };
  if (env.DEPCANARY_INDEX_URL) index.url = env.DEPCANARY_INDEX_URL;
  if (env.DEPCANARY_INDEX_TIMEOUT_MS) index.timeoutMs = env.DEPCANARY_INDEX_TIMEOUT_MS;
  merged.index = index;
}

/** `auto`: the branch files beside the master file; paths made absolute; every file must exist. */
function resolveBranchFiles(setting: 'auto' | 'none' | Record<string, string>, constraintsFile: string): Record<string, string> {
  if (setting === 'none') return {};
  if (setting === 'auto') {
    const dir = dirname(constraintsFile);
    const out: Record<string, string> = {};
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return {};
    }
    for (const n of names.sort()) {
      const branch = branchOfFileName(n);
      if (branch) out[branch] = join(dir, n);
    }
    return out;
  }
  const out: Record<string, string> = {};
  for (const [branch, path] of Object.entries(setting)) {
    if (branch === 'master') throw new ConfigError('bad setting DEPCANARY_BRANCH_FILES: master is DEPCANARY_CONSTRAINTS_FILE');
    if (!/^(stable|unmaintained)\/[a-z0-9][a-z0-9._-]{0,39}$/.test(branch)) {
      throw new ConfigError(`bad setting DEPCANARY_BRANCH_FILES: "${branch.slice(0, 60)}" is not a branch like stable/2025.2 or unmaintained/2024.1`);
    }
    const abs = resolve(path);
    if (!path || !existsSync(abs)) throw new ConfigError(`bad setting DEPCANARY_BRANCH_FILES: ${branch}: file ${path || '(none)'} does not exist`);
    out[branch] = abs;
  }
  return out;
}
// --- end branches, Python support, package index --------------------------------------------

// --- freeze windows, signoffs, webhooks: schema and env ---
function notifySchema() {
  const iso = z.iso.datetime({ offset: true }).transform((v) => Date.parse(v));
  const branch = z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,59}$/, 'a branch like master or stable/2025.2');
  return {
    freezeWindows: z.array(z.strictObject({
      start: iso, end: iso, branches: z.array(branch).min(1).max(50).optional(), reason: z.string().min(1).max(300),
    }).refine((w) => w.end > w.start, 'end must be after start')).max(500).default([]),
    freezeSchedules: z.array(z.string().min(1)).max(20).default([]),
    signoffs: z.record(z.string().regex(/^\d{1,3}(\.\d{1,2})?$/, 'stage percents like 10'), z.coerce.number().int().min(0).max(20)).default({}),
    webhooks: z.array(z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9._-]{1,60}$/, 'letters, digits, ".", "_" and "-"'),
      url: z.string().url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL').refine((u) => !new URL(u).username && !new URL(u).password, 'must not contain credentials'),
      // Never echoed in an error: the message names the rule, not the value.
      secret: z.string().regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by at least 24 base64 bytes').optional(),
      secretFile: z.string().min(1).optional(),
      events: z.array(z.string().regex(/^[a-z_.*]{1,60}$/)).max(50).optional(),
      libraries: z.array(z.string().min(1).max(200)).max(500).optional(),
      minSeverity: z.enum(['info', 'warning', 'critical']).default('info'),
    })).max(50).default([]),
    webhooksFile: z.string().min(1).optional(),
    webhookTimeoutMs: z.coerce.number().int().min(100).max(120_000).default(15_000),
  };
}

function notifyFromEnv(env: NodeJS.ProcessEnv, merged: Record<string, unknown>): void {
  const json = (name: string, key: string) => {
    const v = env[name];
    if (v === undefined || v === '') return;
    try {
      merged[key] = JSON.parse(v);
    } catch {
      throw new ConfigError(`bad setting ${name}: not valid JSON`);
    }
  };
  json('DEPCANARY_FREEZE_WINDOWS', 'freezeWindows');
  json('DEPCANARY_WEBHOOKS', 'webhooks');
  if (env.DEPCANARY_FREEZE_SCHEDULE) merged.freezeSchedules = env.DEPCANARY_FREEZE_SCHEDULE.split(',').map((x) => x.trim()).filter(Boolean);
  const so = env.DEPCANARY_SIGNOFFS;
  if (so !== undefined && so !== '') {
    merged.signoffs = Object.fromEntries(so.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
      const [k, v] = x.split('=');
      return [(k ?? '').trim().replace(/%$/, ''), (v ?? '').trim()];
    }));
  }
  if (env.DEPCANARY_WEBHOOKS_FILE) merged.webhooksFile = env.DEPCANARY_WEBHOOKS_FILE;
  if (env.DEPCANARY_WEBHOOK_TIMEOUT_MS) merged.webhookTimeoutMs = env.DEPCANARY_WEBHOOK_TIMEOUT_MS;
}
// --- end freeze windows, signoffs, webhooks ---------------------------------------------------

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, unknown> = {};
  const file = env.DEPCANARY_CONFIG;
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`DEPCANARY_CONFIG: file ${file} does not exist`);
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`DEPCANARY_CONFIG: ${file} is not valid JSON (${(e as Error).message})`);
    }
    if (!isObject(data)) throw new ConfigError(`DEPCANARY_CONFIG: ${file} must hold a JSON object of settings, not ${describe(data)}`);
    fromFile = data;
  }
  const fromEnv = (v: string, key: string) => (LOWER_CASE.has(key) ? v.trim().toLowerCase() : v);
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [envName, key] of Object.entries(ENV)) if (env[envName] !== undefined && env[envName] !== '') merged[key] = fromEnv(env[envName]!, key);
  if (fromFile.controller !== undefined && !isObject(fromFile.controller)) {
    throw new ConfigError(`bad setting controller (in ${file}): must be an object, not ${describe(fromFile.controller)}`);
  }
  const controller: Record<string, unknown> = { ...((fromFile.controller as object) ?? {}) };
  for (const [envName, key] of Object.entries(CONTROLLER_ENV)) {
    const v = env[envName];
    if (v !== undefined && v !== '') controller[key] = fromEnv(v, key);
  }
  merged.controller = controller;
  if (fromFile.limits !== undefined && !isObject(fromFile.limits)) {
    throw new ConfigError(`bad setting limits (in ${file}): must be an object, not ${describe(fromFile.limits)}`);
  }
  const limits: Record<string, unknown> = { ...((fromFile.limits as object) ?? {}) };
  for (const [envName, key] of Object.entries(LIMITS_ENV)) if (env[envName] !== undefined && env[envName] !== '') limits[key] = env[envName];
  merged.limits = limits;
  constraintsFromEnv(env, merged);
  notifyFromEnv(env, merged);
  for (const [envName, key] of Object.entries(SCALE_ENV)) if (env[envName] !== undefined && env[envName] !== '') merged[key] = env[envName];
  if (env.DEPCANARY_POLICY) {
    try {
      merged.policy = JSON.parse(env.DEPCANARY_POLICY);
    } catch {
      throw new ConfigError('DEPCANARY_POLICY is not valid JSON');
    }
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const envName = Object.entries({ ...ENV, ...CONTROLLER_ENV, ...CONSTRAINTS_ENV, ...NOTIFY_ENV, ...SCALE_ENV }).find(([, k]) => k === path || `controller.${k}` === path || path.startsWith(`${k}.`))?.[0]
      ?? Object.entries(LIMITS_ENV).find(([, k]) => `limits.${k}` === path)?.[0];
    throw new ConfigError(`bad setting ${envName ?? path}: ${issue.message}`);
  }
  const cfg = parsed.data;
  if (cfg.redisCluster && cfg.redisUrl) throw new ConfigError('bad setting REDIS_CLUSTER: set REDIS_URL or REDIS_CLUSTER, not both');
  if (cfg.controller.tickMs >= cfg.controller.leaseMs) {
    throw new ConfigError('bad setting DEPCANARY_CONTROLLER_TICK_MS: must be shorter than DEPCANARY_CONTROLLER_LEASE_MS, or the lease lapses between ticks');
  }
  const constraintsFile = resolve(cfg.constraintsFile);
  return { ...cfg, dataDir: resolve(cfg.dataDir), constraintsFile, branchFiles: resolveBranchFiles(cfg.branchFiles, constraintsFile) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}
