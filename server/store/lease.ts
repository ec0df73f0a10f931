import { randomBytes } from 'node:crypto';
import type { DcRedis } from './redis';

/**
 * A Redis lease with a fencing token: at most one process holds `name` at a time, and the
 * token it got (`fence`) goes with every write it makes, so a process that lost the lease
 * (paused, partitioned) cannot apply a stale decision (transition.lua checks it).
 */
export class Lease {
  readonly owner = randomBytes(8).toString('hex');
  private fence = 0;

  constructor(private readonly redis: DcRedis, private readonly prefix: string, readonly name: string, private readonly ttlMs: number) {}

  /** Acquires or renews; returns the fence while held, 0 when another process holds it. */
  async tick(): Promise<number> {
    this.fence = await this.redis.dc_lease(this.prefix, this.name, this.owner, this.ttlMs, '');
    return this.fence;
  }

  get held(): { lease: string; token: string } | null {
    return this.fence > 0 ? { lease: this.name, token: String(this.fence) } : null;
  }

  async release(): Promise<void> {
    await this.redis.dc_lease(this.prefix, this.name, this.owner, this.ttlMs, 'release');
    this.fence = 0;
  }
}
