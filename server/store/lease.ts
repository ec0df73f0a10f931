import { randomBytes } from 'node:crypto';
import { keys, type Keys } from './keys';
import type { DcRedis } from './redis';

/** The one controller's lease (controller/extension.ts). */
export const CONTROLLER_LEASE = 'controller';

/**
 * A Redis lease with a fencing token: at most one process holds `name` at a time, and the
 * token it got (`fence`) goes with every write it makes, so a process that lost the lease
 * (paused, partitioned) cannot apply a stale decision (transition.lua checks it).
 */
export class Lease {
  readonly owner = randomBytes(8).toString('hex');
  private fence = 0;
  private remaining = 0;
  private readonly k: Keys;

  constructor(private readonly redis: DcRedis, prefix: string, readonly name: string, private readonly ttlMs: number) {
    this.k = keys(prefix);
  }

  /** Acquires or renews; returns the fence while held, 0 when another process holds it. */
  async tick(): Promise<number> {
    const [fence, ms] = (await this.redis.dc_lease(this.k.lease(this.name), this.k.leaseFence(this.name), this.owner, this.ttlMs, '')) as unknown as [number, number];
    this.fence = fence;
    this.remaining = ms;
    return fence;
  }

  get held(): { lease: string; token: string } | null {
    return this.fence > 0 ? { lease: this.name, token: String(this.fence) } : null;
  }

  /**
   * After the last tick: while held, the time left before the lease lapses unrenewed;
   * otherwise the time until the other holder's lease lapses (when a takeover can be tried).
   */
  get remainingMs(): number {
    return this.remaining;
  }

  async release(): Promise<void> {
    await this.redis.dc_lease(this.k.lease(this.name), this.k.leaseFence(this.name), this.owner, this.ttlMs, 'release');
    this.fence = 0;
  }
}
