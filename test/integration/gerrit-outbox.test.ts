import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { gerritExtension } from '../../server/gerrit/extension';
import { Outbox } from '../../server/gerrit/outbox';
import { outboxFor, outboxId } from '../../server/gerrit/outbox-item';
import type { GerritWorker } from '../../server/gerrit/start';
import type { OutboxItem } from '../../server/gerrit/types';
import { createRollout } from '../../server/domain/rollout';
import { resolvePolicy } from '../../server/domain/policy';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The outbox and worker on a real Redis, without Gerrit: the claim/lease protocol, the
 * "not sent" patch when Gerrit is not configured, retries while Gerrit is unreachable, and
 * promotions left alone when they are off. (Delivery to a real Gerrit: test/gerrit/.)
 */
const socket = () => process.env.DEPCANARY_TEST_REDIS_SOCKET!;

function item(id = `r-${randomBytes(3).toString('hex')}`): OutboxItem {
  const r = createRollout({ id, library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'a', now: 1000 });
  return outboxFor('rollback', { ...r, state: 'rolled_back' }, { type: 'rollback', actor: 'alice (release-manager)', reason: 'broken' }, null).item;
}

describe('outbox claims', () => {
  let redis: Redis;
  let outbox: Outbox;
  beforeEach(() => {
    redis = new Redis({ path: socket() });
    outbox = new Outbox(redis, `ob${randomBytes(4).toString('hex')}`);
  });
  afterEach(() => redis.disconnect());

  test('prune keeps the newest items and never drops a pending or claimed one (the webhooks lane)', async () => {
    const lane = new Outbox<{ id: string; createdAt: number; status: string }>(redis, `ob${randomBytes(4).toString('hex')}`, 'webhooks');
    for (let i = 0; i < 8; i++) await lane.enqueue({ id: `d${i}`, createdAt: i, status: 'pending' }, i);
    expect(await lane.prune(10)).toBe(0);
    // d0 stays due, d1 is claimed; d2..d7 are finished.
    const c1 = await lane.claim(0, 60_000);
    const c2 = await lane.claim(1, 60_000);
    expect([c1?.item.id, c2?.item.id]).toEqual(['d0', 'd1']);
    await lane.complete('d0', c1!.token, { id: 'd0', createdAt: 0, status: 'pending' }, 100, false);
    for (let i = 2; i < 8; i++) {
      const c = await lane.claim(i, 60_000);
      await lane.complete(c!.item.id, c!.token, { ...c!.item, status: 'delivered' }, null, false);
    }
    expect(await lane.prune(5)).toBe(3);
    expect((await lane.list()).map((d) => d.id).sort()).toEqual(['d0', 'd1', 'd5', 'd6', 'd7']);
    expect(await lane.prune(5)).toBe(0);
    expect(await lane.prune(1)).toBe(3); // never below the live ones
    expect((await lane.list()).map((d) => d.id).sort()).toEqual(['d0', 'd1']);
  });

  test('an item is claimed once, comes back after its lease, and a stale claimant cannot overwrite it', async () => {
    const it = item();
    expect(await outbox.enqueue(it, 1000)).toBe(true);
    expect(await outbox.enqueue({ ...it, attempts: 9 }, 1000)).toBe(false); // HSETNX: first write wins
    expect(await outbox.claim(999, 60_000)).toBeNull(); // not due yet
    const first = await outbox.claim(1000, 60_000);
    expect(first?.item).toEqual(it);
    expect(await outbox.claim(2000, 60_000)).toBeNull(); // leased
    const second = await outbox.claim(61_000, 60_000); // the first claimant died
    expect(second?.item.id).toBe(it.id);
    expect(await outbox.complete(it.id, first!.token, { ...it, status: 'done' }, null, false)).toBe(false);
    expect(await outbox.complete(it.id, second!.token, { ...it, status: 'done', attempts: 1 }, null, true)).toBe(true);
    expect(await outbox.get(it.id)).toMatchObject({ status: 'done', attempts: 1 });
    expect(await outbox.claim(10_000_000, 60_000)).toBeNull();
    expect(await outbox.watched()).toEqual([it.id]);
    expect(await outbox.requeue(it.id, 5)).toBe(true);
    expect((await outbox.claim(5, 1000))?.item.status).toBe('pending');
  });

  test('a failed attempt is rescheduled at the time it names', async () => {
    const it = item();
    await outbox.enqueue(it, 0);
    const c = await outbox.claim(0, 60_000);
    expect(await outbox.complete(it.id, c!.token, { ...it, attempts: 1, lastError: 'x' }, 5000, false)).toBe(true);
    expect(await outbox.claim(4999, 60_000)).toBeNull();
    expect((await outbox.claim(5000, 60_000))?.item).toMatchObject({ attempts: 1, lastError: 'x' });
  });

  test('an id without an item is dropped, an unreadable item is parked as failed', async () => {
    await redis.zadd(outbox.keys.due, 0, 'rollback:ghost');
    await redis.hset(outbox.keys.items, 'rollback:bad', '{not json');
    await redis.zadd(outbox.keys.due, 1, 'rollback:bad');
    expect(await outbox.claim(10, 1000)).toBeNull();
    expect(await redis.zcard(outbox.keys.due)).toBe(0);
    expect(JSON.parse((await redis.hget(outbox.keys.items, 'rollback:bad'))!)).toMatchObject({ status: 'failed', raw: '{not json' });
  });
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

async function serverWith(env: NodeJS.ProcessEnv): Promise<{ server: TestServer; worker: GerritWorker }> {
  let worker: GerritWorker | undefined;
  const server = await startTestServer({ publicUrl: 'https://depcanary.example.org' }, [
    gerritExtension(env, { onStart: (w) => (worker = w), pollMs: 60_000, backoff: { baseMs: 1000, maxMs: 4000 } }),
  ]);
  return { server, worker: worker! };
}

async function rolledBack(s: TestServer, w: GerritWorker): Promise<string> {
  const created = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0' });
  expect(created.status).toBe(201);
  const id = created.json.id;
  expect((await s.req('POST', `/v1/rollouts/${id}/rollback`, { reason: 'broken for nova' })).status).toBe(200);
  // Written by the rollout store in the same Lua script as the rollback.
  expect(await w.outbox.get(outboxId('rollback', id))).toMatchObject({ status: 'pending', attempts: 0, payload: { reason: 'broken for nova' } });
  return id;
}

describe('worker without a reachable Gerrit', () => {
  test('not configured: the proposal is recorded on the rollout as a patch, marked not sent', async () => {
    const { server, worker } = await serverWith({});
    try {
      const id = await rolledBack(server, worker);
      expect(await worker.drain()).toBe(2); // the revert and the separate exclusion
      const view = await server.req('GET', `/v1/rollouts/${id}`);
      const p = view.json.proposal;
      expect(p).toMatchObject({ kind: 'rollback', branch: 'master', status: 'not_sent', attempts: 1, files: ['upper-constraints.txt'], baseRevision: null });
      // The base pinned the candidate (the bump merged first): a revert in the repository's form.
      expect(p.subject).toBe('Revert "update constraint for oslo.log to new release 8.3.0"');
      expect(p.message).toContain('Reason for revert: broken for nova');
      expect(p.message).toContain('No decision-rule evidence is attached (manual rollback).');
      expect(view.json.exclusion).toMatchObject({
        kind: 'exclude', status: 'nothing_to_propose', reason: 'Gerrit is not configured (GERRIT_URL); the requirements file is only edited through Gerrit',
      });
      // ... and until the base follows, every machine gets the stable: the emergency pin.
      expect(view.json.emergencyPin).toMatchObject({ library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', inForce: true });
      const served = await server.req('GET', '/v1/constraints.txt', undefined, null);
      expect(served.text).toContain('\noslo.log===8.2.0\n');
      expect(served.headers.get('x-depcanary-overrides')).toBe('oslo.log=8.2.0');
      expect(p.patch).toContain('--- a/upper-constraints.txt\n+++ b/upper-constraints.txt\n');
      expect(p.patch).toContain('\n-oslo.log===8.3.0\n+oslo.log===8.2.0\n');
      expect(p.message).toContain(`Rollout: https://depcanary.example.org/rollouts/${id}`);
      expect(p.reason).toMatch(/Gerrit is not configured/);
      const outbox = await server.req('GET', '/v1/admin/gerrit/outbox');
      expect(outbox.json.sending).toBe(false);
      expect(outbox.json.items.map((i: { id: string }) => i.id).sort()).toEqual([`exclude:${id}`, `rollback:${id}`]);
      expect(outbox.json.items.every((i: { status: string; dueAt: null }) => i.status === 'done' && i.dueAt === null)).toBe(true);
      expect((await server.req('POST', '/v1/admin/gerrit/sync-base')).status).toBe(409);
      expect((await server.req('GET', '/metrics', undefined, null)).text).toMatch(/depcanary_gerrit_proposals_total\{outcome="not_sent"\} 1/);
    } finally {
      await server.close();
    }
  });

  test('unreachable: the attempt is rescheduled with backoff and the error is on the rollout', async () => {
    const port = await closedPort();
    const { server, worker } = await serverWith({
      GERRIT_URL: `http://127.0.0.1:${port}`, GERRIT_USER: 'bot', GERRIT_PASSWORD: 'pw-0123456789', GERRIT_BASE_REFRESH_SECONDS: '0',
    });
    try {
      const id = await rolledBack(server, worker);
      const before = Date.now();
      await worker.drain();
      const p = (await server.req('GET', `/v1/rollouts/${id}`)).json.proposal;
      expect(p).toMatchObject({ status: 'pending', attempts: 1 });
      expect(p.lastError).toMatch(/ECONNREFUSED/);
      expect(p.lastError).not.toContain('pw-0123456789');
      expect(p.nextAttemptAt).toBeGreaterThanOrEqual(before + 500);
      expect(p.nextAttemptAt).toBeLessThanOrEqual(Date.now() + 1000);
      expect(await worker.drain()).toBe(0); // not due yet
      const it = await worker.outbox.get(`rollback:${id}`);
      expect(it).toMatchObject({ status: 'pending', attempts: 1 });
      expect((await server.req('GET', '/metrics', undefined, null)).text).toMatch(/depcanary_gerrit_proposals_total\{outcome="retry"\} 2/);
    } finally {
      await server.close();
    }
  });

  test('promotion proposals are off by default: the rollout says so', async () => {
    const { server, worker } = await serverWith({});
    try {
      const created = await server.req('POST', '/v1/rollouts', { library: 'pbr', candidate: '7.0.4', stages: [5, 100] });
      const id = created.json.id;
      expect((await server.req('POST', `/v1/rollouts/${id}/promote`, { reason: 'fine' })).json.state).toBe('promoted');
      expect(await worker.outbox.get(outboxId('promote', id))).not.toBeNull();
      await worker.drain();
      expect((await server.req('GET', `/v1/rollouts/${id}`)).json.proposal).toMatchObject({
        kind: 'promote', status: 'nothing_to_propose', reason: 'promotion proposals are off (GERRIT_PROPOSE_PROMOTIONS)',
      });
    } finally {
      await server.close();
    }
  });
});
