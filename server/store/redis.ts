import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { luaRefusals } from './refusals';

/**
 * The Lua scripts, registered once per connection with ioredis `defineCommand`, with the
 * number of KEYS each declares (every name comes from store/keys.ts; null: it varies by call,
 * see runScript). On Redis Cluster all KEYS of one call must be in one slot, which the key
 * layout (store/keys.ts) guarantees.
 */
const SCRIPTS = {
  transition: 11,
  create: 9,
  lease: 2,
  record: 5,
  event: 2,
  fanout: 3,
  retire: null,
  ingest: null,
  fold: null,
} as const;
export type ScriptName = keyof typeof SCRIPTS;

/** The scripts with a fixed number of KEYS: commands of their own (the others go through runScript). */
type FixedScript = { [K in ScriptName]: (typeof SCRIPTS)[K] extends number ? K : never }[ScriptName];

/** A standalone Redis or a Redis Cluster client, with the fixed-key scripts as `dc_<name>` commands. */
export type DcRedis = (Redis | Cluster) & {
  [K in `dc_${FixedScript}`]: (...args: (string | number)[]) => Promise<number>;
};

/** Where Redis is: a URL, a unix socket, or the seed nodes of a cluster. */
export interface RedisTarget {
  url?: string;
  socket?: string;
  cluster?: { host: string; port: number }[];
  /** For a cluster: the credentials of every node. */
  username?: string;
  password?: string;
}

function luaDir(): string {
  // Running from sources (ts-jest) the scripts sit beside this file; from dist/ they stay in server/.
  const candidates = [join(__dirname, 'lua'), join(__dirname, '..', '..', '..', 'server', 'store', 'lua')];
  const dir = candidates.find((d) => existsSync(join(d, 'transition.lua')));
  if (!dir) throw new Error(`Lua scripts not found in ${candidates.join(' or ')}`);
  return dir;
}

export function connectionOptions(target: RedisTarget): { url?: string; opts: RedisOptions } {
  const opts: RedisOptions = {
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (target.socket) return { opts: { ...opts, path: target.socket } };
  return { url: target.url, opts };
}

/** True for a Redis Cluster client. */
export function isCluster(r: Redis | Cluster): r is Cluster {
  return r instanceof Cluster;
}

/** The oldest Redis the scripts run on: retire.lua's EXPIRE … NX came with 7.0. */
export const MIN_REDIS_VERSION = [7, 0] as const;

/** The version a node reports in INFO server (`redis_version:7.0.15`), or null when it says none. */
export function redisVersionOf(info: string): number[] | null {
  const m = /^redis_version:(\d+)\.(\d+)(?:\.(\d+))?/m.exec(info);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** Refuses to start on a Redis older than MIN_REDIS_VERSION (every master of a cluster is asked). */
export async function requireRedisVersion(r: Redis | Cluster): Promise<void> {
  for (const node of masters(r)) {
    const v = redisVersionOf(await node.info('server'));
    if (!v) continue; // a Redis-compatible server that does not say: let the scripts tell
    const [major, minor] = MIN_REDIS_VERSION;
    if (v[0]! < major || (v[0] === major && v[1]! < minor)) {
      throw new Error(`Redis ${major}.${minor} or newer is needed (EXPIRE NX in retention); the server at ${node.options.path ?? `${node.options.host}:${node.options.port}`} runs ${v.join('.')}`);
    }
  }
}

/** The master nodes to run a per-node command on (SCAN): the cluster's masters, or the one server. */
export function masters(r: Redis | Cluster): Redis[] {
  return isCluster(r) ? r.nodes('master') : [r];
}

export function createRedis(target: RedisTarget, extra: RedisOptions = {}): DcRedis {
  let client: Redis | Cluster;
  if (target.cluster) {
    const { opts } = connectionOptions({});
    const cluster: ClusterOptions = {
      // Commands of one tick are grouped per node (a pipeline may not span nodes).
      enableAutoPipelining: true,
      scaleReads: 'master',
      clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
      redisOptions: { ...opts, ...extra, username: target.username, password: target.password },
    };
    client = new Cluster(target.cluster, cluster);
  } else {
    const { url, opts } = connectionOptions(target);
    client = url ? new Redis(url, { ...opts, ...extra }) : new Redis({ ...opts, ...extra });
  }
  for (const [name, n] of Object.entries(SCRIPTS)) if (n !== null) client.defineCommand(`dc_${name}`, { numberOfKeys: n, lua: source(name as ScriptName).lua });
  return client as DcRedis;
}

const sources = new Map<ScriptName, { lua: string; sha: string }>();
/** A script's Lua, with the REFUSED table before it, and its SHA-1. */
function source(name: ScriptName): { lua: string; sha: string } {
  let src = sources.get(name);
  if (src === undefined) {
    const lua = luaRefusals() + readFileSync(join(luaDir(), `${name}.lua`), 'utf8');
    src = { lua, sha: createHash('sha1').update(lua).digest('hex') };
    sources.set(name, src);
  }
  return src;
}

/**
 * Runs a script whose number of KEYS varies by call (SCRIPTS null) as EVALSHA (EVAL when the
 * server does not have it yet): ioredis knows where EVALSHA's keys are, which on a cluster
 * routes the call and groups it with the other commands for the same node (a command defined
 * without a fixed key count would be grouped by its count instead).
 */
export async function runScript(redis: DcRedis, name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
  const { lua, sha } = source(name);
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (e) {
    if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
}
