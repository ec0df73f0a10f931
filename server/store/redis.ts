import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';

/** The Lua scripts, registered once per connection with ioredis `defineCommand`. */
const SCRIPTS = ['transition', 'create', 'ingest', 'lease', 'record', 'event', 'fanout'] as const;
export type ScriptName = (typeof SCRIPTS)[number];

export type DcRedis = Redis & {
  [K in `dc_${ScriptName}`]: (...args: (string | number)[]) => Promise<number>;
};

function luaDir(): string {
  // Running from sources (ts-jest) the scripts sit beside this file; from dist/ they stay in server/.
  const candidates = [join(__dirname, 'lua'), join(__dirname, '..', '..', '..', 'server', 'store', 'lua')];
  const dir = candidates.find((d) => existsSync(join(d, 'transition.lua')));
  if (!dir) throw new Error(`Lua scripts not found in ${candidates.join(' or ')}`);
  return dir;
}

export function connectionOptions(target: { url?: string; socket?: string }): { url?: string; opts: RedisOptions } {
  const opts: RedisOptions = {
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (target.socket) return { opts: { ...opts, path: target.socket } };
  return { url: target.url, opts };
}

export function createRedis(target: { url?: string; socket?: string }, extra: RedisOptions = {}): DcRedis {
  const { url, opts } = connectionOptions(target);
  const client = url ? new Redis(url, { ...opts, ...extra }) : new Redis({ ...opts, ...extra });
  const dir = luaDir();
  for (const name of SCRIPTS) {
    client.defineCommand(`dc_${name}`, { numberOfKeys: 0, lua: readFileSync(join(dir, `${name}.lua`), 'utf8') });
  }
  return client as DcRedis;
}
