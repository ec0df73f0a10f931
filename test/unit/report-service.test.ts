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
  // a batch of 2 reports that concern no rollout is 4 parts (each report's machine and fleet parts)
  test.each([1, 2, 4])('at most %i batches of 4 parts at once with room for 4 × that many; the others wait and are all counted', async (n) => {
    const store = new HeldStore();
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 4 * n);
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
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 2);
    const first = service.ingest([report()], 'ci');
    const second = service.ingest([report(), report()], 'ci');
    await expect(first).rejects.toThrow('Command timed out');
    await expect(second).resolves.toMatchObject({ accepted: 2, duplicates: 0 });
  });
  test(`past ${MAX_WAITING_BATCHES} batches waiting, a batch is refused before anything is stored`, async () => {
    const store = new HeldStore();
    const service = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 2);
    const accepted = [service.ingest([report()], 'ci')];
    await tick(); // the first one is in the store
    for (let k = 0; k < MAX_WAITING_BATCHES; k++) accepted.push(service.ingest([report()], 'ci'));
    await expect(service.ingest([report()], 'ci')).rejects.toThrow(IngestBusy);
    while (store.release() > 0 || store.inFlight > 0) await tick();
    expect((await Promise.all(accepted)).every((r) => r.accepted === 1)).toBe(true);
    expect(store.batches).toHaveLength(MAX_WAITING_BATCHES + 1);
  });

  test('a waiting batch takes its arms from the pins served when its turn comes', async () => {
    const store = new HeldStore();
    // a new snapshot (as PinsCache makes on every change) once the rollout has advanced
    let current = { stage: 0, assign: () => [{ rolloutId: 'r', arm: 'control', stage: current.stage }] };
    const live = { current: () => current } as unknown as PinsCache;
    const service = new ReportService(store as unknown as TelemetryStore, live, Date.now, { machine: 1, source: 0 }, 3);
    const first = service.ingest([report()], 'ci');
    const second = service.ingest([report()], 'ci');
    await tick();
    current = { ...current, stage: 1 }; // the rollout advanced while the second batch waited
    store.release();
    await first;
    await tick();
    store.release();
    await second;
    expect(store.batches.map((b) => b[0]!.assignments[0]!.stage)).toEqual([0, 1]);
  });
  test('light batches go together, a heavy one alone (parts: 2 per report, 1 per rollout it concerns)', async () => {
    const store = new HeldStore();
    const heavyPins = { current: () => ({ assign: () => Array.from({ length: 40 }, (_, i) => ({ rolloutId: `r${i}`, arm: 'control', stage: 0 })) }) } as unknown as PinsCache;
    const light = new ReportService(store as unknown as TelemetryStore, pins, Date.now, { machine: 1, source: 0 }, 100);
    const lights = Array.from({ length: 25 }, () => light.ingest([report()], 'ci')); // 2 parts each: 50 at once
    await tick();
    expect(store.inFlight).toBe(25);
    while (store.release() > 0 || store.inFlight > 0) await tick();
    await Promise.all(lights);
    const heavy = new ReportService(store as unknown as TelemetryStore, heavyPins, Date.now, { machine: 1, source: 0 }, 100);
    store.maxInFlight = 0;
    const heavies = Array.from({ length: 3 }, () => heavy.ingest([report(), report()], 'ci')); // 84 parts each
    await tick();
    expect(store.inFlight).toBe(1);
    while (store.release() > 0 || store.inFlight > 0) await tick();
    expect((await Promise.all(heavies)).map((r) => r.accepted)).toEqual([2, 2, 2]);
    expect(store.maxInFlight).toBe(1);
    // heavier than the whole room (126 parts): it runs alone, it does not wait for ever
    const huge = heavy.ingest([report(), report(), report()], 'ci');
    await tick();
    expect(store.inFlight).toBe(1);
    while (store.release() > 0 || store.inFlight > 0) await tick();
    await expect(huge).resolves.toMatchObject({ accepted: 3 });
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
