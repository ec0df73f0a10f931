import type { Logger } from 'pino';
import { TERMINAL_STATES } from '../domain/rollout';
import type { RolloutStore } from '../store/rollout-store';
import type { TelemetryStore } from '../store/telemetry-store';

const DAY_S = 86_400;

/**
 * Retention of ended rollouts (DEPCANARY_RETENTION_DAYS): once a rollout has ended, its
 * evidence summary is kept in its record and its evidence keys (store/keys.ts
 * rolloutEvidence) expire after the retention time; its record, decisions, series and audit
 * trail (events, feed) are kept for good. A terminal transition puts the rollout in `ending`
 * in the same Lua step, so a crash before it is retired leaves it there for the next sweep
 * (every replica sweeps at start and then every `sweepMs`; retiring twice is harmless).
 */
export class Retention {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: RolloutStore,
    private readonly telemetry: TelemetryStore,
    private readonly days: number,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Retires now, and on every sweep whatever is left in `ending`. */
  start(sweepMs = 60_000): void {
    this.store.onEnded = (id) => void this.retire(id).catch((e) => this.logger.warn({ rollout: id, err: String(e) }, 'retiring an ended rollout failed; the next sweep retries'));
    const sweep = () => void this.sweep().catch((e) => this.logger.warn({ err: String(e) }, 'retention sweep failed'));
    sweep();
    this.timer = setInterval(sweep, sweepMs);
    this.timer.unref();
  }

  stop(): void {
    this.store.onEnded = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Keeps the rollout's evidence summary in its record, then sets its evidence keys to expire. False when there was nothing to retire. */
  async retire(id: string): Promise<boolean> {
    const rec = await this.store.get(id);
    if (rec && TERMINAL_STATES.has(rec.rollout.state)) {
      const r = rec.rollout;
      if (!rec.finalEvidence) await this.store.setFinalEvidence(id, await this.telemetry.summary(id, r.stageIndex));
      await this.telemetry.retire(id, r.stages.length, this.days * DAY_S, this.clock());
    }
    await this.store.endingDone(id);
    return rec !== null && TERMINAL_STATES.has(rec.rollout.state);
  }

  /** Retires every rollout still in `ending`; returns how many. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const id of await this.store.endingIds()) if (await this.retire(id)) n++;
    return n;
  }
}
