import type { Logger } from 'pino';
import type { BaseStore } from '../store/base-store';
import { keys } from '../store/keys';
import type { DcRedis } from '../store/redis';
import type { RolloutStore } from '../store/rollout-store';
import { PinsSnapshot, type BranchInput } from './pins';

/**
 * Keeps the PinsSnapshot in memory so serving pins never touches Redis. Every change bumps
 * the store's version (store/keys.ts `version`) and publishes on `changed`; this cache
 * reloads on each message, and also polls the version every `pollMs` in case a message was
 * missed. So a change reaches every server process (replica) within `pollMs` (default
 * 500 ms) plus one reload at worst, and within milliseconds normally; the process that made
 * the change refreshes before it replies.
 */
export class PinsCache {
  private snapshot: PinsSnapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private dirty = false;

  constructor(
    private readonly redis: DcRedis,
    private readonly subscriber: DcRedis,
    private readonly prefix: string,
    private readonly rollouts: RolloutStore,
    private readonly base: BaseStore,
    private readonly logger: Logger,
    private readonly pollMs = 500,
    /** DEPCANARY_PYTHON_VERSIONS; null: each branch's default from its markers. */
    private readonly pythons: readonly string[] | null = null,
  ) {}

  current(): PinsSnapshot {
    if (!this.snapshot) throw new Error('pins cache used before start()');
    return this.snapshot;
  }

  async start(): Promise<void> {
    await this.refresh(true);
    const channel = keys(this.prefix).changed;
    await this.subscriber.subscribe(channel);
    this.subscriber.on('message', (ch) => {
      if (ch === channel) void this.refresh().catch((e) => this.logger.warn({ err: String(e) }, 'pins refresh failed'));
    });
    this.timer = setInterval(() => {
      void this.refresh().catch((e) => this.logger.warn({ err: String(e) }, 'pins refresh failed'));
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * After a committed write: reload now so the caller's next read sees it, but never turn
   * a stored change into an error reply; the poll catches up if this reload fails.
   */
  async refreshAfterWrite(force = false): Promise<void> {
    await this.refresh(force).catch((e) => this.logger.warn({ err: String(e) }, 'pins refresh after a write failed; the poll will catch up'));
  }

  /** Reloads when the version moved (or always with `force`); concurrent calls coalesce. */
  async refresh(force = false): Promise<void> {
    if (this.loading) {
      this.dirty = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.dirty = false;
          await this.load(force);
          force = false;
        } while (this.dirty);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private async load(force: boolean): Promise<void> {
    const version = await this.rollouts.version();
    if (!force && this.snapshot && this.snapshot.version === version) return;
    const [branches, active] = await Promise.all([this.base.branches(), this.rollouts.active()]);
    const inputs = new Map<string, BranchInput>();
    await Promise.all(branches.map(async (b) => {
      const [base, overrides, emergency] = await Promise.all([this.base.get(b), this.base.overrides(b), this.base.emergencyPins(b)]);
      inputs.set(b, { base, overrides, emergency });
    }));
    this.snapshot = PinsSnapshot.build(version, new Map([...inputs].sort(([a], [b]) => (a < b ? -1 : 1))), active.map((r) => r.rollout), this.pythons);
  }
}
