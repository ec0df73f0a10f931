/**
 * ReportService with in-memory fakes behind the store and pins ports: how many batches it
 * lets into the store at once, and that the ones waiting their turn are all counted.
 */
import { randomUUID } from 'node:crypto';
import type { Report } from '../../server/api/schemas';
import type { PinsCache } from '../../server/services/pins-cache';
import { ReportService } from '../../server/services/reports';
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
});
