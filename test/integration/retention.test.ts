import { randomUUID } from 'node:crypto';
import { Retention } from '../../server/services/retention';
import { keys } from '../../server/store/keys';
import { SEEN_TTL_S } from '../../server/store/telemetry-store';
import { report, startTestServer, waitFor, type TestServer } from '../support/server';

const DAY_S = 86_400;

/**
 * Retention (DEPCANARY_RETENTION_DAYS) on a real server and Redis: an ended rollout's
 * evidence keys get an expiry, its record, decisions and audit trail do not, and its view
 * keeps showing the evidence it ended with once the keys are gone.
 */
describe('retention of ended rollouts', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ retentionDays: 3 });
  });
  afterAll(() => s?.close());

  const redis = () => s.server.runtime.redis;
  const k = () => keys(s.config.keyPrefix);
  /** Every key of the rollout's evidence slot with its TTL (s), but its per-day report dedupe (which expires by itself). */
  const slotTtls = async (id: string) => {
    const out: Record<string, number> = {};
    const seen = k().rolloutSeen(id, '');
    let cursor = '0';
    do {
      const [next, found] = await redis().scan(cursor, 'MATCH', k().rolloutData(id, '*'), 'COUNT', 1000);
      cursor = next;
      for (const name of found) {
        const ttl = await redis().ttl(name);
        if (!name.startsWith(seen)) out[name] = ttl;
        else expect([name, ttl > 0 && ttl <= SEEN_TTL_S]).toEqual([name, true]);
      }
    } while (cursor !== '0');
    return out;
  };
  const withReports = async (library: string, candidate: string) => {
    const ro = (await s.req('POST', '/v1/rollouts', { library, candidate, stages: [50, 100] })).json;
    const reports = [];
    for (let i = 0; i < 30; i++) {
      const machine = randomUUID();
      const pin = ((await s.req('GET', `/v1/pins?machine=${machine}`, undefined, null)).json.pins as { rolloutId: string; version: string }[]).find((p) => p.rolloutId === ro.id)!;
      const fail = i % 4 === 0;
      reports.push(report({ machine, installed: { [library]: pin.version }, outcome: fail ? 'fail' : 'pass', failedTests: fail ? ['tests.test_a'] : [], project: i % 2 ? 'nova' : 'neutron' }));
    }
    await s.postSpread(reports, 3);
    return ro as { id: string; stable: string };
  };

  test('a rollback by hand: every evidence key expires in the retention time; record, events, series stay; the view keeps its evidence', async () => {
    const ro = await withReports('oslo.log', '8.4.0');
    const before = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json;
    expect(before.evidence.total.candidate.runs + before.evidence.total.control.runs).toBe(30);
    expect((await s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'by hand' })).status).toBe(200);
    const ttls = await waitFor('the evidence keys to get an expiry', () => slotTtls(ro.id), (t) => Object.values(t).length > 0 && Object.values(t).every((x) => x > 0));
    // counters, machine-days, failing tests, segments, meta, the source caps: all of them
    expect(Object.keys(ttls).length).toBeGreaterThan(15);
    for (const [name, ttl] of Object.entries(ttls)) expect([name, ttl > 3 * DAY_S - 60 && ttl <= 3 * DAY_S]).toEqual([name, true]);
    // every key retention sets to expire is one the rollout has (and the list covers the slot)
    expect(Object.keys(ttls).filter((n) => !k().rolloutEvidence(ro.id, 2).includes(n))).toEqual([]);
    expect(await redis().ttl(k().rollout(ro.id))).toBe(-1);
    expect(await redis().ttl(k().events(ro.id))).toBe(-1);
    expect(await redis().sismember(k().ending, ro.id)).toBe(0);
    // the keys expire (here: deleted); what the rollout ended with is still shown
    await redis().del(...Object.keys(ttls));
    const after = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json;
    expect(after.evidence).toEqual(before.evidence);
    expect(after.state).toBe('rolled_back');
    expect((await s.req('GET', `/v1/rollouts/${ro.id}/events`)).json.events.map((e: { type: string }) => e.type)).toEqual(['created', 'rolled_back']);
  });

  test('superseded by a new rollout of the same library: the old one is retired', async () => {
    const old = await withReports('stevedore', '6.0.0');
    const next = (await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '6.1.0', stages: [50, 100] })).json;
    expect(next.id).not.toBe(old.id);
    const ttls = await waitFor('the superseded rollout\'s keys to expire', () => slotTtls(old.id), (t) => Object.values(t).length > 0 && Object.values(t).every((x) => x > 0));
    expect(Object.keys(ttls).length).toBeGreaterThan(15);
    expect((await s.req('GET', `/v1/rollouts/${old.id}`)).json.state).toBe('superseded');
  });

  test('a crash between the end and the retirement: the rollout waits in `ending` until a sweep retires it', async () => {
    const store = s.server.runtime.rolloutStore;
    const hook = store.onEnded;
    store.onEnded = null; // the process "dies" right after the terminal transition
    let ro: { id: string };
    try {
      ro = await withReports('pbr', '7.1.0');
      expect((await s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'gone' })).status).toBe(200);
    } finally {
      store.onEnded = hook;
    }
    expect(await redis().sismember(k().ending, ro.id)).toBe(1);
    expect(Object.values(await slotTtls(ro.id)).every((t) => t === -1)).toBe(true);
    const sweep = new Retention(store, s.server.runtime.telemetry, 3, s.server.runtime.logger);
    expect(await sweep.sweep()).toBeGreaterThanOrEqual(1);
    expect(Object.values(await slotTtls(ro.id)).every((t) => t > 0)).toBe(true);
    expect(await redis().sismember(k().ending, ro.id)).toBe(0);
    // a second retirement keeps the first expiry
    const first = await slotTtls(ro.id);
    await sweep.retire(ro.id);
    const again = await slotTtls(ro.id);
    for (const [name, ttl] of Object.entries(again)) expect(ttl).toBeLessThanOrEqual(first[name]!);
  });
});
