import { Controller } from '../../server/controller/controller';
import { createMetrics } from '../../server/metrics';
import { CONTROLLER_LEASE, Lease } from '../../server/store/lease';
import { startTestServer, waitFor, type TestServer } from '../support/server';

/**
 * Controllers of several replicas on one store (real Redis): one holds the lease; when it
 * dies without giving the lease up, another takes over as soon as the lease lapses, not a
 * whole tick later. Long ticks (4 s) against a 5 s lease make the difference plain.
 */
describe('controller failover between replicas', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.close());

  const TICK_MS = 4000;
  const LEASE_MS = 5000;
  const controller = (lease: Lease) => {
    const rt = s.server.runtime;
    const metrics = createMetrics();
    const c = new Controller({
      store: rt.rolloutStore, telemetry: rt.telemetry, rollouts: rt.rollouts, lease, subscriber: rt.newConnection(),
      prefix: rt.config.keyPrefix, metrics, logger: rt.logger, tickMs: TICK_MS, debounceMs: 50,
    });
    return { c, metrics, lease };
  };
  const leader = async (m: ReturnType<typeof createMetrics>) => (await m.controllerLeader.get()).values[0]?.value ?? 0;

  test('a dead leader (lease never renewed) is replaced within the lease time; the new fence is larger', async () => {
    const p = s.config.keyPrefix;
    // the leader: takes the lease once and then "dies" (never renews, never releases)
    const dead = new Lease(s.server.runtime.redis, p, CONTROLLER_LEASE, LEASE_MS);
    const deadFence = await dead.tick();
    const takenAt = Date.now();
    expect(deadFence).toBeGreaterThan(0);
    const b = controller(new Lease(s.server.runtime.redis, p, CONTROLLER_LEASE, LEASE_MS));
    await b.c.start();
    try {
      expect(await leader(b.metrics)).toBe(0);
      // b's first tick saw the lease held with less than a tick left: it tries again when it lapses
      expect(b.lease.remainingMs).toBeGreaterThan(0);
      expect(b.lease.remainingMs).toBeLessThanOrEqual(LEASE_MS);
      await waitFor('b to take the lease', () => leader(b.metrics), (v) => v === 1, 3 * LEASE_MS, 20);
      const lapsedFor = Date.now() - (takenAt + LEASE_MS);
      // a tick-only takeover would come up to TICK_MS after the lapse
      expect(lapsedFor).toBeLessThan(TICK_MS / 2);
      expect(Number(b.lease.held!.token)).toBe(deadFence + 1);
      expect((await b.metrics.controllerFence.get()).values[0]!.value).toBe(deadFence + 1);
    } finally {
      await b.c.stop();
    }
    expect(await leader(b.metrics)).toBe(0);
  }, 30_000);

  test('two live controllers: exactly one leads; when it stops (releasing the lease) the other leads', async () => {
    const p = s.config.keyPrefix;
    const a = controller(new Lease(s.server.runtime.redis, p, CONTROLLER_LEASE, LEASE_MS));
    const b = controller(new Lease(s.server.runtime.redis, p, CONTROLLER_LEASE, LEASE_MS));
    await a.c.start();
    await b.c.start();
    try {
      expect([await leader(a.metrics), await leader(b.metrics)]).toEqual([1, 0]);
      await a.c.stop();
      await waitFor('b to lead', () => leader(b.metrics), (v) => v === 1, 3 * TICK_MS, 20);
      expect(await leader(a.metrics)).toBe(0);
    } finally {
      await a.c.stop();
      await b.c.stop();
    }
  }, 30_000);
});
