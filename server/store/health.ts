import type { Logger } from 'pino';
import type { EmbeddedRedis } from './embedded-redis';
import type { DcRedis } from './redis';

export interface StoreStatus {
  ok: boolean;
  /** `ok`, `unreachable` (no answer within the command timeout), `restarting` / `failed` (the embedded redis-server). */
  redis: 'ok' | 'unreachable' | 'restarting' | 'failed';
  /** When the current state began (ISO-8601). */
  since: string;
}

/**
 * Pings Redis every `intervalMs` (each ping bounded by the connection's command timeout) so
 * that `/healthz` tells the truth without a round trip of its own, and logs each change of
 * state once instead of on every failed command.
 */
export class StoreHealth {
  private status: StoreStatus = { ok: true, redis: 'ok', since: new Date().toISOString() };
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly redis: DcRedis,
    private readonly logger: Logger,
    private readonly embedded: EmbeddedRedis | null,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): StoreStatus {
    const e = this.embedded?.state;
    if (e === 'restarting' || e === 'failed') return { ...this.status, ok: false, redis: e };
    return this.status;
  }

  /** One ping now; the new state is also what current() returns afterwards. */
  async probe(): Promise<StoreStatus> {
    if (this.running) return this.current();
    this.running = true;
    try {
      await this.redis.ping();
      this.set('ok');
    } catch (e) {
      this.set('unreachable', (e as Error).message);
    } finally {
      this.running = false;
    }
    return this.current();
  }

  private set(redis: 'ok' | 'unreachable', err?: string): void {
    if (this.status.redis === redis) return;
    this.status = { ok: redis === 'ok', redis, since: new Date().toISOString() };
    if (redis === 'ok') this.logger.info('redis answers again');
    else this.logger.error({ err }, 'redis does not answer: requests that need it get 503 until it is back');
  }
}
