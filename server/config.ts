import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { policyOverride } from './api/schemas';

/**
 * The server's settings, from an optional JSON file (DEPCANARY_CONFIG) overlaid by env.
 * A bad setting stops the start with a message naming it.
 */
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
  pinsRefreshMs: z.coerce.number().int().min(50).max(60_000).default(1000),
  controller: z.strictObject({
    enabled: z.union([z.boolean(), z.enum(['0', '1', 'true', 'false', 'on', 'off', 'yes', 'no']).transform((v) => ['1', 'true', 'on', 'yes'].includes(v))]).default(true),
    tickMs: z.coerce.number().int().min(50).max(3_600_000).default(5000),
    debounceMs: z.coerce.number().int().min(0).max(600_000).default(500),
    leaseMs: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  }).default({ enabled: true, tickMs: 5000, debounceMs: 500, leaseMs: 15_000 }),
  policy: policyOverride.optional(),
  /** Read by server/gerrit/config.ts (GERRIT_* env wins); validated there. */
  gerrit: z.record(z.string(), z.unknown()).optional(),
});
export type Config = z.infer<typeof schema>;

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
};
const CONTROLLER_ENV: Record<string, string> = {
  DEPCANARY_CONTROLLER: 'enabled',
  DEPCANARY_CONTROLLER_TICK_MS: 'tickMs',
  DEPCANARY_CONTROLLER_DEBOUNCE_MS: 'debounceMs',
  DEPCANARY_CONTROLLER_LEASE_MS: 'leaseMs',
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let fromFile: Record<string, unknown> = {};
  const file = env.DEPCANARY_CONFIG;
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`DEPCANARY_CONFIG: file ${file} does not exist`);
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`DEPCANARY_CONFIG: ${file} is not valid JSON (${(e as Error).message})`);
    }
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [envName, key] of Object.entries(ENV)) if (env[envName] !== undefined && env[envName] !== '') merged[key] = env[envName];
  const controller: Record<string, unknown> = { ...((fromFile.controller as object) ?? {}) };
  for (const [envName, key] of Object.entries(CONTROLLER_ENV)) {
    const v = env[envName];
    if (v !== undefined && v !== '') controller[key] = key === 'enabled' ? !['0', 'false', 'off', 'no'].includes(v.toLowerCase()) : v;
  }
  merged.controller = controller;
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
    const envName = Object.entries({ ...ENV, ...CONTROLLER_ENV }).find(([, k]) => k === path || `controller.${k}` === path)?.[0];
    throw new ConfigError(`bad setting ${envName ?? path}: ${issue.message}`);
  }
  const cfg = parsed.data;
  if (cfg.controller.tickMs >= cfg.controller.leaseMs) {
    throw new ConfigError('bad setting DEPCANARY_CONTROLLER_TICK_MS: must be shorter than DEPCANARY_CONTROLLER_LEASE_MS, or the lease lapses between ticks');
  }
  return { ...cfg, dataDir: resolve(cfg.dataDir), constraintsFile: resolve(cfg.constraintsFile) };
}
