import pino from 'pino';
import { Controller, type ControllerDeps } from '../../server/controller/controller';
import { createMetrics } from '../../server/metrics';

/**
 * The controller's work per rollout is bounded: one evaluation runs, at most one waits
 * behind it (later requests join the waiting one), and a tick while the last tick runs is
 * skipped. Fakes behind the store and lease ports; each evaluation's store read is held open
 * until the test lets it go, so overlap and queue length are visible.
 */
function harness(evaluationsAtOnce?: number) {
  const reads: string[] = [];
  const gates: Array<() => void> = [];
  let failNext = false;
  let activeCalls = 0;
  let releaseActive: (() => void) | null = null;
  const warnings: string[] = [];
  /** What the store's activeIds() answers (rollout ids). */
  const active: string[] = [];
  let leaseTicks = 0;
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const store = {
    get: (id: string) => new Promise((resolve, reject) => {
      reads.push(id);
      const fail = failNext;
      failNext = false;
      gates.push(() => (fail ? reject(new Error('redis went away')) : resolve(null)));
    }),
    activeIds: () => {
      activeCalls += 1;
      return new Promise((resolve) => {
        releaseActive = () => resolve(Object.fromEntries(active.map((id) => [id, id])));
      });
    },
  };
  const lease = { held: { lease: 'controller', token: '1' }, tick: async () => ++leaseTicks && 1, remainingMs: 0, release: async () => undefined };
  const c = new Controller({
    store, lease, logger, metrics: createMetrics(), tickMs: 60_000, debounceMs: 1, prefix: 't',
    ...(evaluationsAtOnce ? { evaluationsAtOnce } : {}),
  } as unknown as ControllerDeps);
  const flush = () => new Promise((r) => setImmediate(r));
  /** Lets the oldest open read finish, then waits for what follows it to start. */
  const finishOne = async () => {
    gates.shift()!();
    await flush();
    await flush();
  };
  return {
    c, reads, gates, warnings, finishOne, flush,
    failNextRead: () => void (failNext = true),
    activeCalls: () => activeCalls,
    active, leaseTicks: () => leaseTicks,
    releaseActive: () => releaseActive?.(),
    tick: () => (c as unknown as { tick(): Promise<void> }).tick(),
  };
}

describe('controller evaluation queue', () => {
  test('requests during a running evaluation coalesce into one that starts after it', async () => {
    const h = harness();
    const settled: number[] = [];
    const first = h.c.evaluate('r1').then(() => settled.push(0));
    await h.flush();
    const later = Array.from({ length: 10 }, (_, i) => h.c.evaluate('r1').then(() => settled.push(i + 1)));
    await h.flush();
    expect(h.reads).toEqual(['r1']); // nothing overlaps the running one
    await h.finishOne();
    await first;
    expect(settled).toEqual([0]);
    expect(h.reads).toEqual(['r1', 'r1']); // the ten requests became one evaluation
    await h.finishOne();
    await Promise.all(later);
    expect(settled).toHaveLength(11);
    expect(h.reads).toHaveLength(2);
    expect(h.gates).toHaveLength(0);
  });

  test('a request after the queue drained runs again; rollouts do not wait on each other', async () => {
    const h = harness();
    const a = h.c.evaluate('a');
    const b = h.c.evaluate('b');
    await h.flush();
    expect(h.reads).toEqual(['a', 'b']);
    await h.finishOne();
    await h.finishOne();
    await Promise.all([a, b]);
    const again = h.c.evaluate('a');
    await h.flush();
    expect(h.reads).toEqual(['a', 'b', 'a']);
    await h.finishOne();
    await again;
  });

  test('a failed evaluation is logged, never rejects, and the queued one still runs', async () => {
    const h = harness();
    h.failNextRead();
    const first = h.c.evaluate('r1');
    await h.flush();
    const queued = h.c.evaluate('r1');
    await h.finishOne();
    await expect(first).resolves.toBeUndefined();
    expect(h.warnings.join('')).toContain('redis went away');
    expect(h.reads).toHaveLength(2);
    await h.finishOne();
    await expect(queued).resolves.toBeUndefined();
  });

  test('a tick while the last one runs is skipped', async () => {
    const h = harness();
    const t1 = h.tick();
    await h.flush();
    await h.tick();
    await h.tick();
    expect(h.activeCalls()).toBe(1);
    h.releaseActive();
    await t1;
    const t2 = h.tick();
    await h.flush();
    expect(h.activeCalls()).toBe(2);
    h.releaseActive();
    await t2;
  });
  test('a tick does not wait for its evaluations: the next one renews the lease while they run', async () => {
    const h = harness(2);
    h.active.push('a', 'b', 'c', 'd', 'e');
    const t1 = h.tick();
    await h.flush();
    h.releaseActive();
    await t1; // returned with its evaluations still running
    expect(h.reads).toEqual(['a', 'b']);
    const t2 = h.tick();
    await h.flush();
    expect(h.leaseTicks()).toBe(2);
    h.releaseActive();
    await t2;
    // the second tick queued nothing new: each rollout still evaluates once, then once more
    while (h.gates.length) await h.finishOne();
    expect(h.reads.filter((id) => id === 'a')).toHaveLength(2);
    expect(h.reads).toHaveLength(10);
  });

  test('evaluations over all rollouts run a few at a time; each waiting one still runs', async () => {
    const h = harness(3);
    const all = Array.from({ length: 10 }, (_, i) => h.c.evaluate(`r${i}`));
    await h.flush();
    expect(h.reads).toEqual(['r0', 'r1', 'r2']);
    for (let done = 1; done <= 7; done++) {
      await h.finishOne();
      expect(h.gates).toHaveLength(3); // one finished, the next waiting one started
      expect(h.reads).toHaveLength(3 + done);
    }
    while (h.gates.length) await h.finishOne();
    await Promise.all(all);
    expect(h.reads).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  });
});
