import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

export type Role = 'viewer' | 'release-manager' | 'admin';
export const ROLE_RANK: Record<Role, number> = { viewer: 1, 'release-manager': 2, admin: 3 };

export interface TokenEntry {
  name: string;
  role: Role;
  /** sha256 hex of the token; the token itself is never stored. */
  sha256: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return `dct_${randomBytes(24).toString('base64url')}`;
}

/**
 * Tokens from the bootstrap env, an optional tokens file and Redis. Lookup hashes the
 * presented token and compares hashes with timingSafeEqual.
 */
export class TokenStore {
  private readonly k: Keys;
  private static: TokenEntry[];
  private cache: { at: number; entries: TokenEntry[] } | null = null;

  constructor(private readonly redis: DcRedis, prefix: string, staticEntries: TokenEntry[], private readonly cacheMs = 2000) {
    this.k = keys(prefix);
    this.static = staticEntries;
  }

  async create(name: string, role: Role): Promise<string> {
    const token = newToken();
    const entry: TokenEntry = { name, role, sha256: hashToken(token) };
    await this.redis.hset(this.k.tokens, entry.sha256, JSON.stringify(entry));
    this.cache = null;
    return token;
  }

  async lookup(token: string, now = Date.now()): Promise<TokenEntry | null> {
    const presented = Buffer.from(hashToken(token), 'hex');
    let found: TokenEntry | null = null;
    for (const e of await this.entries(now)) {
      const stored = Buffer.from(e.sha256, 'hex');
      if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = e;
    }
    return found;
  }

  private async entries(now: number): Promise<TokenEntry[]> {
    if (this.cache && now - this.cache.at < this.cacheMs) return this.cache.entries;
    const h = await this.redis.hgetall(this.k.tokens);
    const entries = [...this.static, ...Object.values(h).map((v) => JSON.parse(v) as TokenEntry)];
    this.cache = { at: now, entries };
    return entries;
  }
}
