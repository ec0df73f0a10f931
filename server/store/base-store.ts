import { MASTER } from '../domain/branches';
import { etagOf } from '../domain/etag';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

/**
 * What a promotion (or an emergency pin) needs to rewrite the lines of a branch's base:
 * the rollout's versions and Python support (see domain/rollout-lines.ts).
 */
export interface LineOverride {
  rolloutId: string;
  /** The library's spelling. */
  name: string;
  key: string;
  stable: string;
  candidate: string;
  requiresPython: string | null;
  stableRequiresPython: string | null;
  /** The community Pythons the rollout ran with (empty: the branch's current ones). */
  pythons: string[];
}

/** A promotion: the candidate's lines sit on top of the base until the file itself catches up. */
export type BaseOverride = LineOverride;

/**
 * A rollback of a rollout whose base already pinned the candidate (the bump merged first):
 * every machine gets the stable on those lines until the base stops pinning the candidate.
 */
export interface EmergencyPin extends LineOverride {
  at: number;
  reason: string;
}

export interface StoredBase {
  branch: string;
  text: string;
  etag: string;
  importedAt: number;
  source: string;
}

/** Old override records (before branches): {name, version, stable, rolloutId}. */
function upgradeOverride(key: string, raw: Record<string, unknown>): LineOverride {
  return {
    rolloutId: String(raw.rolloutId ?? ''),
    name: String(raw.name ?? key),
    key: String(raw.key ?? key),
    stable: String(raw.stable ?? ''),
    candidate: String(raw.candidate ?? raw.version ?? ''),
    requiresPython: typeof raw.requiresPython === 'string' ? raw.requiresPython : null,
    stableRequiresPython: typeof raw.stableRequiresPython === 'string' ? raw.stableRequiresPython : null,
    pythons: Array.isArray(raw.pythons) ? raw.pythons.map(String) : [],
  };
}

/**
 * One base constraints file per branch (stored verbatim) with the promotion overrides and
 * emergency pins that sit on top of it until the file itself catches up.
 */
export class BaseStore {
  private readonly k: Keys;
  constructor(private readonly redis: DcRedis, prefix: string) {
    this.k = keys(prefix);
  }

  /** Moves a base stored before branches existed to master (once, idempotent). */
  async migrate(): Promise<void> {
    if ((await this.redis.exists(this.k.legacyBase)) === 1 && (await this.redis.exists(this.k.base(MASTER))) === 0) {
      const m = this.redis.multi().rename(this.k.legacyBase, this.k.base(MASTER)).sadd(this.k.branches, MASTER);
      if ((await this.redis.exists(this.k.legacyBaseOverrides)) === 1) m.rename(this.k.legacyBaseOverrides, this.k.baseOverrides(MASTER));
      await m.exec();
    }
  }

  async branches(): Promise<string[]> {
    return (await this.redis.smembers(this.k.branches)).sort();
  }

  async get(branch: string): Promise<StoredBase | null> {
    const h = await this.redis.hgetall(this.k.base(branch));
    if (h.text === undefined) return null;
    return { branch, text: h.text, etag: h.etag ?? etagOf(h.text), importedAt: Number(h.importedAt ?? 0), source: h.source ?? '' };
  }

  /**
   * Replaces a branch's base. Overrides and emergency pins for which `stillApplies` is
   * false are dropped: the file has moved on (caught up with the promotion, or the revert
   * merged), and the file wins.
   */
  async replace(
    branch: string, text: string, source: string, now: number,
    stillApplies: (o: LineOverride, kind: 'override' | 'emergency') => boolean,
  ): Promise<StoredBase> {
    const etag = etagOf(text);
    // WATCH overrides and pins: a promotion or rollback landing between the read and the
    // write retries the whole step, so what it wrote is checked against the new file too.
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.redis.watch(this.k.baseOverrides(branch), this.k.emergencyPins(branch));
      const [overrides, pins] = await Promise.all([this.overrides(branch), this.emergencyPins(branch)]);
      const multi = this.redis.multi();
      multi.hset(this.k.base(branch), 'text', text, 'etag', etag, 'importedAt', String(now), 'source', source);
      multi.sadd(this.k.branches, branch);
      for (const [key, o] of overrides) if (!stillApplies(o, 'override')) multi.hdel(this.k.baseOverrides(branch), key);
      for (const [key, p] of pins) if (!stillApplies(p, 'emergency')) multi.hdel(this.k.emergencyPins(branch), key);
      multi.incr(this.k.version);
      if ((await multi.exec()) !== null) {
        await this.redis.publish(this.k.changed, 'base');
        return { branch, text, etag, importedAt: now, source };
      }
    }
    throw new Error('base constraints kept changing during the replace; retry');
  }

  /** Hash of the file last imported at start for this branch. */
  async bootFileEtag(branch: string): Promise<string | null> {
    return this.redis.hget(this.k.base(branch), 'bootFileEtag');
  }

  async setBootFileEtag(branch: string, etag: string): Promise<void> {
    await this.redis.hset(this.k.base(branch), 'bootFileEtag', etag);
  }

  async overrides(branch: string): Promise<Map<string, BaseOverride>> {
    const h = await this.redis.hgetall(this.k.baseOverrides(branch));
    return new Map(Object.entries(h).map(([key, v]) => [key, upgradeOverride(key, JSON.parse(v) as Record<string, unknown>)]));
  }

  async emergencyPins(branch: string): Promise<Map<string, EmergencyPin>> {
    const h = await this.redis.hgetall(this.k.emergencyPins(branch));
    return new Map(Object.entries(h).map(([key, v]) => {
      const raw = JSON.parse(v) as Record<string, unknown>;
      return [key, { ...upgradeOverride(key, raw), at: Number(raw.at ?? 0), reason: String(raw.reason ?? '') }];
    }));
  }

  /** Lifts an emergency pin by hand; false when there was none. */
  async liftEmergencyPin(branch: string, key: string): Promise<boolean> {
    const m = this.redis.multi().hdel(this.k.emergencyPins(branch), key).incr(this.k.version);
    const res = await m.exec();
    const removed = Number(res?.[0]?.[1] ?? 0) === 1;
    await this.redis.publish(this.k.changed, 'emergency');
    return removed;
  }
}
