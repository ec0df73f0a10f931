import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../domain/errors';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

/**
 * `reporter` (a CI system) can only post reports (docs/trust.md): it ranks below viewer, and
 * POST /v1/reports takes no other role. The other roles are ranked: each can do what the
 * ones below it can.
 */
export type Role = 'reporter' | 'viewer' | 'release-manager' | 'admin';
export const ROLES = ['reporter', 'viewer', 'release-manager', 'admin'] as const satisfies readonly Role[];
export const ROLE_RANK: Record<Role, number> = { reporter: 0, viewer: 1, 'release-manager': 2, admin: 3 };

export interface TokenEntry {
  name: string;
  role: Role;
  /** sha256 hex of the token; the token itself is never stored. */
  sha256: string;
  /** ISO-8601, for tokens made through the API. */
  createdAt?: string;
  createdBy?: string;
}

/** What `GET /v1/tokens` shows of a token: never its hash. */
export interface TokenInfo {
  name: string;
  role: Role;
  /** `api` (POST /v1/tokens, revocable there), `env` (DEPCANARY_ADMIN_TOKEN) or `file` (DEPCANARY_TOKENS_FILE). */
  source: 'api' | 'env' | 'file';
  createdAt?: string;
  createdBy?: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return `dct_${randomBytes(24).toString('base64url')}`;
}

/** Stores the entry unless a token of that name exists: 1 stored, 0 name taken. */
const CREATE = `
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).name == ARGV[1] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1`;
/** Removes every entry of that name; returns how many. */
const REVOKE = `
local h = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #h, 2 do
  if cjson.decode(h[i + 1]).name == ARGV[1] then redis.call('HDEL', KEYS[1], h[i]); n = n + 1 end
end
return n`;

/**
 * Tokens from the bootstrap env, an optional tokens file (both fixed for the process) and
 * Redis (made and revoked through the API). A lookup reads Redis each time (one HGET by the
 * presented token's hash), so a revocation holds at once on every server process. Names are
 * unique, so `DELETE /v1/tokens/:name` means one token.
 */
export class TokenStore {
  private readonly k: Keys;

  /**
   * `publicRole`: the role a request without any Authorization header gets (viewer in
   * DEPCANARY_PUBLIC_READ mode), null when such a request is refused.
   */
  constructor(
    private readonly redis: DcRedis,
    prefix: string,
    private readonly fixed: (TokenEntry & { source?: 'env' | 'file' })[],
    readonly publicRole: Role | null = null,
  ) {
    this.k = keys(prefix);
  }

  async create(name: string, role: Role, actor?: string): Promise<string> {
    if (this.fixed.some((e) => e.name === name)) throw new DomainError('conflict', `a token named "${name}" is defined at start (${this.sourceOf(name)}); pick another name`);
    const token = newToken();
    const entry: TokenEntry = { name, role, sha256: hashToken(token), createdAt: new Date().toISOString(), ...(actor ? { createdBy: actor } : {}) };
    const stored = await this.redis.eval(CREATE, 1, this.k.tokens, name, entry.sha256, JSON.stringify(entry));
    if (stored !== 1) throw new DomainError('conflict', `a token named "${name}" exists; revoke it first (DELETE /v1/tokens/${name})`);
    return token;
  }

  /** Revokes the API token of that name; false when there is none. */
  async revoke(name: string): Promise<boolean> {
    if (this.fixed.some((e) => e.name === name)) {
      throw new DomainError('conflict', `token "${name}" is defined at start (${this.sourceOf(name)}); remove it there and restart`);
    }
    return (await this.redis.eval(REVOKE, 1, this.k.tokens, name)) !== 0;
  }

  async list(): Promise<TokenInfo[]> {
    const stored = Object.values(await this.redis.hgetall(this.k.tokens)).map((v) => JSON.parse(v) as TokenEntry);
    const info = (e: TokenEntry, source: TokenInfo['source']): TokenInfo => ({
      name: e.name, role: e.role, source, ...(e.createdAt ? { createdAt: e.createdAt } : {}), ...(e.createdBy ? { createdBy: e.createdBy } : {}),
    });
    return [
      ...this.fixed.map((e) => info(e, e.source ?? 'file')),
      ...stored.sort((a, b) => a.name.localeCompare(b.name)).map((e) => info(e, 'api')),
    ];
  }

  async lookup(token: string): Promise<TokenEntry | null> {
    const hash = hashToken(token);
    const presented = Buffer.from(hash, 'hex');
    let found: TokenEntry | null = null;
    for (const e of this.fixed) {
      const stored = Buffer.from(e.sha256, 'hex');
      if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = e;
    }
    if (found) return found;
    const v = await this.redis.hget(this.k.tokens, hash);
    return v ? (JSON.parse(v) as TokenEntry) : null;
  }

  private sourceOf(name: string): string {
    return this.fixed.find((e) => e.name === name)?.source === 'env' ? 'DEPCANARY_ADMIN_TOKEN' : 'DEPCANARY_TOKENS_FILE';
  }
}
