/**
 * ReportService with in-memory fakes behind the store and pins ports: how many batches it
 * lets into the store at once, and that the ones waiting their turn are all counted.
 */
import { randomUUID } from 'node:crypto';
import type { Report } from '../../server/api/schemas';
import pino from 'pino';
import { errorHandler } from '../../server/api/errors';
import type { PinsCache } from '../../server/services/pins-cache';
import { IngestBusy, MAX_WAITING_BATCHES, ReportService } from '../../server/services/reports';
import type { IngestItem, TelemetryStore } from '../../server/store/telemetry-store';

/** A store whose ingest() holds every batch until release() is called. */
class HeldStore {
  inFlight = 0;
  maxInFlight = 0;
  batches: IngestItem[][] = [];
  private waiting: (() => void)[] = [];

  async ingest(items: IngestItem[]): Promise<boolean[]> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((res) => this.waiting.push(res));
    this.batches.push(items);
    this.inFlight--;
    return items.map(() => true);
  }

  async publishCounted(): Promise<void> {}

  /** Lets every batch held now go on; returns how many there were. */
  release(): number {
    const w = this.waiting.splice(0);
    w.forEach((f) => f());
    return w.length;
  }
}

const pins = { current: () => ({ assign: () => [] }) } as unknown as PinsCache;

function report(): Report {
  return {
    id: randomUUID(), machine: randomUUID(), outcome: 'pass', installed: {}, project: 'nova', env: 'py311', python: '3.11.7',
    platform: 'linux', durationMs: 1, failedTests: [], finishedAt: new Date().toISOString(),
  };
}

const tick = () => new Promise((res) => setImmediate(res));

describe('ReportService: batches counted in the store at once', () => {
  test.each([1, 2, 4])('at most %i at once; the others wait their turn and are all counted', async (n) => {
    const store = new HeldStore();
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, n);
    const all = Array.from({ length: 9 }, () => service.ingest([report(), report()], 'ci'));
    let released = 0;
    for (let round = 0; released < 9 && round < 50; round++) {
      await tick();
      expect(store.inFlight).toBeLessThanOrEqual(n);
      released += store.release();
    }
    const results = await Promise.all(all);
    expect(store.maxInFlight).toBe(n);
    expect(results.map((r) => r.accepted)).toEqual(Array(9).fill(2));
    expect(store.batches).toHaveLength(9);
  });

  test('a batch the store refuses does not hold up the next', async () => {
    const calls: number[] = [];
    const store = {
      async ingest(items: IngestItem[]) {
        calls.push(items.length);
        if (calls.length === 1) throw new Error('Command timed out');
        return items.map(() => true);
      },
      async publishCounted() {},
    };
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 1);
    const first = service.ingest([report()], 'ci');
    const second = service.ingest([report(), report()], 'ci');
    await expect(first).rejects.toThrow('Command timed out');
    await expect(second).resolves.toMatchObject({ accepted: 2, duplicates: 0 });
  });
  test(`past ${MAX_WAITING_BATCHES} batches waiting, a batch is refused before anything is stored`, async () => {
    const store = new HeldStore();
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 1);
    const accepted = Array.from({ length: MAX_WAITING_BATCHES + 1 }, () => service.ingest([report()], 'ci'));
    await tick();
    await expect(service.ingest([report()], 'ci')).rejects.toThrow(IngestBusy);
    while (store.release() > 0 || store.inFlight > 0) await tick();
    expect((await Promise.all(accepted)).every((r) => r.accepted === 1)).toBe(true);
    expect(store.batches).toHaveLength(MAX_WAITING_BATCHES + 1);
  });

  test('a waiting batch takes its arms from the pins served when its turn comes', async () => {
    const store = new HeldStore();
    let stage = 0;
    const live = { current: () => ({ assign: () => [{ rolloutId: 'r', arm: 'control', stage }] }) } as unknown as PinsCache;
    const service = new ReportService(store as unknown as TelemetryStore, live, Date.now, { machine: 1, source: 0 }, 1);
    const first = service.ingest([report()], 'ci');
    const second = service.ingest([report()], 'ci');
    await tick();
    stage = 1; // the rollout advanced while the second batch waited
    store.release();
    await first;
    await tick();
    store.release();
    await second;
    expect(store.batches.map((b) => b[0]!.assignments[0]!.stage)).toEqual([0, 1]);
  });
  test('a refused batch is a 503 unavailable with Retry-After: 1', () => {
    const sent: { status?: number; headers?: Record<string, string>; body?: unknown } = {};
    const res = {
      headersSent: false,
      set(h: Record<string, string>) { sent.headers = h; return this; },
      status(n: number) { sent.status = n; return this; },
      json(b: unknown) { sent.body = b; return this; },
    };
    errorHandler(pino({ level: 'silent' }))(new IngestBusy(), { path: '/v1/reports' } as never, res as never, () => undefined);
    expect(sent.status).toBe(503);
    expect(sent.headers).toEqual({ 'retry-after': '1' });
    expect(sent.body).toEqual({ error: { code: 'unavailable', message: expect.stringContaining('nothing of this batch was stored') } });
  });
});
