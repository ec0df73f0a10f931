import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { keys } from '../store/keys';
import type { DcRedis } from '../store/redis';
import { ipv6Groups, plainAddress } from './sources';

/**
 * Named limits, counted in Redis so that every server process (replica) shares them
 * (rate-limiter-flexible's atomic INCR+EXPIRE script), with a per-process in-memory
 * stand-in while Redis does not answer. Each limit counts points per key in a fixed window;
 * over it, `consume` throws RateLimited with the seconds until the key may try again.
 *
 * Keys: a client address (`addressKey`: the IPv4 address, or the /64 of an IPv6 one, as
 * `req.ip` gives it under DEPCANARY_TRUST_PROXY), an address block (`addressBlock`: /24,
 * /56), or a report source (services/sources.ts: an enrolment's block, a reporter token).
 */
export type LimitName =
  | 'reports-per-address'
  | 'reports-per-source'
  | 'auth-failures-per-address'
  | 'auth-failures-per-block'
  | 'enrolments-per-address'
  | 'enrolments-per-block';

/** What a limit counts, for the 429 message. */
export const LIMIT_SUBJECT: Record<LimitName, string> = {
  'reports-per-address': 'reports from this address',
  'reports-per-source': 'reports from this source (its enrolment\'s address block, or its reporter token)',
  'auth-failures-per-address': 'failed credentials from this address',
  'auth-failures-per-block': 'failed credentials from this address block',
  'enrolments-per-address': 'enrolments from this address',
  'enrolments-per-block': 'enrolments from this address block',
};

export interface LimitSpec {
  /** Points allowed per window; 0 turns the limit off. */
  points: number;
  windowSeconds: number;
  /** Once over, the key stays refused this long (default: until the window ends). */
  blockSeconds?: number;
}

export class RateLimited extends Error {
  constructor(readonly limit: LimitName, readonly retryAfterSeconds: number) {
    super(`too many requests (${limit}); retry after ${retryAfterSeconds} s`);
  }
}

export class RateLimits {
  private readonly limiters = new Map<LimitName, RateLimiterRedis>();

  constructor(redis: DcRedis, prefix: string, specs: Partial<Record<LimitName, LimitSpec>>, private readonly logger?: Logger) {
    for (const [name, spec] of Object.entries(specs) as [LimitName, LimitSpec][]) {
      if (!spec || spec.points <= 0) continue;
      const common = { points: spec.points, duration: spec.windowSeconds, blockDuration: spec.blockSeconds ?? 0 };
      this.limiters.set(name, new RateLimiterRedis({
        ...common,
        storeClient: redis,
        keyPrefix: keys(prefix).rateLimit(name),
        insuranceLimiter: new RateLimiterMemory(common),
      }));
    }
  }

  enabled(name: LimitName): boolean {
    return this.limiters.has(name);
  }

  /** Takes `points` from `key`'s allowance; throws RateLimited when that goes over the limit. */
  async consume(name: LimitName, key: string, points = 1): Promise<void> {
    const l = this.limiters.get(name);
    if (!l) return;
    try {
      await l.consume(key, points);
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        this.logger?.info({ limit: name, key, retryAfterSeconds: retryAfter(e) }, 'rate limited');
        throw new RateLimited(name, retryAfter(e));
      }
      throw e;
    }
  }

  /** Throws RateLimited when `key` is over the limit now, without taking anything. */
  async check(name: LimitName, key: string): Promise<void> {
    const l = this.limiters.get(name);
    if (!l) return;
    const res = await l.get(key).catch(() => null);
    if (res && res.consumedPoints > l.points) throw new RateLimited(name, retryAfter(res));
  }
}

function retryAfter(r: RateLimiterRes): number {
  return Math.max(1, Math.ceil(r.msBeforeNext / 1000));
}

/** The key a client address is counted under: IPv4 as is, IPv6 by its /64 (one host's usual share). */
export function addressKey(ip: string | undefined): string {
  const a = plainAddress(ip);
  if (isIPv4(a)) return a;
  const g = ipv6Groups(a);
  if (!g) return 'unknown';
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}
