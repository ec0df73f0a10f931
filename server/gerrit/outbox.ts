import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { keys } from '../store/keys';
import type { OutboxItem } from './types';

/**
 * The proposal outbox in Redis. The rollout store writes an item in the same Lua script as
 * the rollback or promotion (HSETNX items + ZADD due); this module claims due items under
 * a lease, records outcomes, and reschedules failures. Keys (store/keys.ts, control slot):
 *   outboxItems   hash  id -> item JSON
 *   outboxDue     zset  id -> due time (ms); absent once finished
 *   outboxClaims  hash  id -> token of the attempt in progress
 *   outboxWatch   set   ids whose open Gerrit change is watched for merge
 */
export function outboxKeys(prefix: string, lane: OutboxLane = 'gerrit') {
  const k = keys(prefix);
  if (lane === 'webhooks') return { items: k.webhookItems, due: k.webhookDue, claims: k.webhookClaims, watch: k.webhookWatch };
  return { items: k.outboxItems, due: k.outboxDue, claims: k.outboxClaims, watch: k.outboxWatch };
}
/** Gerrit proposals (the items the rollout store writes), or webhook deliveries (server/notify/). */
export type OutboxLane = 'gerrit' | 'webhooks';
export type OutboxKeys = ReturnType<typeof outboxKeys>;

type OutboxRedis = (Redis | Cluster) & {
  dcOutboxClaim(k1: string, k2: string, k3: string, now: number, leaseMs: number, token: string): Promise<[string, string | null] | null>;
  dcOutboxComplete(k1: string, k2: string, k3: string, k4: string, id: string, token: string, json: string, due: string, watch: string): Promise<number>;
};

function lua(name: string): string {
  // From sources (ts-jest) the scripts sit beside this file; from dist/ they stay in server/.
  const dirs = [join(__dirname, 'lua'), join(__dirname, '..', '..', '..', 'server', 'gerrit', 'lua')];
  const dir = dirs.find((d) => existsSync(join(d, name)));
  if (!dir) throw new Error(`${name} not found in ${dirs.join(' or ')}`);
  return readFileSync(join(dir, name), 'utf8');
}

function withScripts(redis: Redis | Cluster): OutboxRedis {
  const r = redis as OutboxRedis;
  if (typeof r.dcOutboxClaim !== 'function') {
    redis.defineCommand('dcOutboxClaim', { numberOfKeys: 3, lua: lua('outbox-claim.lua') });
    redis.defineCommand('dcOutboxComplete', { numberOfKeys: 4, lua: lua('outbox-complete.lua') });
  }
  return r;
}

const ENQUEUE = `if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) return 1 end return 0`;

export interface Claim<T = OutboxItem> {
  item: T;
  token: string;
}

/** What any outbox lane's items have (Gerrit proposals: OutboxItem; webhooks: notify/types.ts). */
export interface LaneItem {
  id: string;
  createdAt: number;
}

export class Outbox<T extends LaneItem = OutboxItem> {
  readonly keys: OutboxKeys;
  private readonly redis: OutboxRedis;

  constructor(redis: Redis | Cluster, prefix: string, lane: OutboxLane = 'gerrit') {
    this.redis = withScripts(redis);
    this.keys = outboxKeys(prefix, lane);
  }

  /**
   * Writes an item the way the rollout store's transition script does (HSETNX + ZADD), for
   * tools and tests; returns false when the id already exists.
   */
  async enqueue(item: T, dueAt = item.createdAt): Promise<boolean> {
    const res = await this.redis.eval(ENQUEUE, 2, this.keys.items, this.keys.due, item.id, JSON.stringify(item), dueAt);
    return res === 1;
  }

  /** Claims the oldest due item, or null. Unreadable items are marked failed and skipped. */
  async claim(now: number, leaseMs: number): Promise<Claim<T> | null> {
    for (let i = 0; i < 10; i++) {
      const token = randomBytes(12).toString('hex');
      const res = await this.redis.dcOutboxClaim(this.keys.items, this.keys.due, this.keys.claims, now, leaseMs, token);
      if (!res) return null;
      const [id, json] = res;
      if (!json) continue;
      try {
        return { item: JSON.parse(json) as T, token };
      } catch {
        // Kept for a person to read, but never claimed again.
        const failed = { id, status: 'failed', lastError: 'item is not valid JSON', raw: json.slice(0, 10_000) };
        await this.complete(id, token, failed as unknown as T, null, false);
      }
    }
    return null;
  }

  /** Records the attempt's outcome; `dueAt` null finishes the item. False: claim was lost. */
  async complete(id: string, token: string, item: T, dueAt: number | null, watch: boolean): Promise<boolean> {
    const res = await this.redis.dcOutboxComplete(
      this.keys.items, this.keys.due, this.keys.claims, this.keys.watch,
      id, token, JSON.stringify(item), dueAt === null ? '' : String(Math.round(dueAt)), watch ? '1' : '0',
    );
    return res === 1;
  }

  async get(id: string): Promise<T | null> {
    const json = await this.redis.hget(this.keys.items, id);
    return json ? (JSON.parse(json) as T) : null;
  }

  /** Items with their due time (null when finished), newest first. */
  async list(limit = 200): Promise<(T & { dueAt: number | null })[]> {
    const all = await this.redis.hgetall(this.keys.items);
    const out: (T & { dueAt: number | null })[] = [];
    for (const [id, json] of Object.entries(all)) {
      try {
        const item = JSON.parse(json) as T;
        const score = await this.redis.zscore(this.keys.due, id);
        out.push({ ...item, dueAt: score === null ? null : Number(score) });
      } catch {
        /* skipped: not JSON */
      }
    }
    return out.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  }

  /** Makes a finished or failed item due now (an operator's retry). False when unknown. */
  async requeue(id: string, now: number): Promise<boolean> {
    const item = await this.get(id);
    if (!item) return false;
    await this.redis.multi()
      .hset(this.keys.items, id, JSON.stringify({ ...item, status: 'pending', nextAttemptAt: now }))
      .zadd(this.keys.due, now, id)
      .exec();
    return true;
  }

  /** Items not finished yet (due now or later). */
  async pendingCount(): Promise<number> {
    return this.redis.zcard(this.keys.due);
  }

  /**
   * Keeps at most `max` items: beyond that, the oldest finished ones (not due, not claimed)
   * are deleted. For lanes whose finished items are only a log (webhook deliveries); returns
   * how many went. O(1) while under the cap.
   */
  async prune(max: number): Promise<number> {
    if ((await this.redis.hlen(this.keys.items)) <= max) return 0;
    const all = await this.redis.hgetall(this.keys.items);
    const [due, claims] = await Promise.all([this.redis.zrange(this.keys.due, '0', '-1'), this.redis.hkeys(this.keys.claims)]);
    const live = new Set([...due, ...claims]);
    const finished = Object.entries(all).filter(([id]) => !live.has(id)).map(([id, json]) => {
      let at = 0;
      try {
        at = Number((JSON.parse(json) as { createdAt?: unknown }).createdAt) || 0;
      } catch {
        /* unreadable: oldest */
      }
      return { id, at };
    }).sort((a, b) => a.at - b.at);
    const drop = finished.slice(0, Math.max(0, Object.keys(all).length - max)).map((x) => x.id);
    for (let i = 0; i < drop.length; i += 500) await this.redis.hdel(this.keys.items, ...drop.slice(i, i + 500));
    return drop.length;
  }

  async watched(): Promise<string[]> {
    return this.redis.smembers(this.keys.watch);
  }

  /** Replaces a watched item after a merge check (no claim: finished items are not claimed). */
  async updateWatched(item: T, stillWatching: boolean): Promise<void> {
    const m = this.redis.multi().hset(this.keys.items, item.id, JSON.stringify(item));
    if (!stillWatching) m.srem(this.keys.watch, item.id);
    await m.exec();
  }
}
