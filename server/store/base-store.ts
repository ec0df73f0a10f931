import { etagOf } from '../domain/etag';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

export interface BaseOverride {
  name: string;
  version: string;
  /** The version the file pinned when the override was made. */
  stable: string;
  rolloutId: string;
}

export interface StoredBase {
  text: string;
  etag: string;
  importedAt: number;
  source: string;
}

/**
 * The base constraints file (stored verbatim) and the promotion overrides that sit on top of
 * it until the file itself catches up.
 */
export class BaseStore {
  private readonly k: Keys;
  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
  }

  async get(): Promise<StoredBase | null> {
    const h = await this.redis.hgetall(this.k.base);
    if (h.text === undefined) return null;
    return { text: h.text, etag: h.etag ?? etagOf(h.text), importedAt: Number(h.importedAt ?? 0), source: h.source ?? '' };
  }

  async etag(): Promise<string | null> {
    return this.redis.hget(this.k.base, 'etag');
  }

  /**
   * Replaces the base. Overrides whose library the new file no longer pins at the
   * override's old stable version are dropped: the file has moved on (caught up with the
   * promotion or was changed on purpose), and the file wins.
   */
  async replace(text: string, source: string, now: number, pinnedVersionOf: (name: string) => string | null): Promise<StoredBase> {
    const etag = etagOf(text);
    // WATCH the overrides: a promotion landing between the read and the write retries the
    // whole step, so its override is filtered against the new file too.
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(this.k.baseOverrides);
      const overrides = await this.overrides();
      const multi = this.redis.multi();
      multi.hset(this.k.base, 'text', text, 'etag', etag, 'importedAt', String(now), 'source', source);
      for (const [key, o] of overrides) {
        if (pinnedVersionOf(o.name) !== o.stable) multi.hdel(this.k.baseOverrides, key);
      }
      multi.incr(this.k.version);
      if ((await multi.exec()) !== null) {
        await this.redis.publish(this.k.changed, 'base');
        return { text, etag, importedAt: now, source };
      }
    }
    throw new Error('base constraints kept changing during the replace; retry');
  }

  /** Hash of the file last imported at start (DEPCANARY_CONSTRAINTS_FILE). */
  async bootFileEtag(): Promise<string | null> {
    return this.redis.hget(this.k.base, 'bootFileEtag');
  }

  async setBootFileEtag(etag: string): Promise<void> {
    await this.redis.hset(this.k.base, 'bootFileEtag', etag);
  }

  async overrides(): Promise<Map<string, BaseOverride>> {
    const h = await this.redis.hgetall(this.k.baseOverrides);
    return new Map(Object.entries(h).map(([key, v]) => [key, JSON.parse(v) as BaseOverride]));
  }
}

