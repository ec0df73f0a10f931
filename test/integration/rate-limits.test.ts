import { randomUUID } from 'node:crypto';
import { addressKey } from '../../server/services/rate-limits';
import { ADMIN_TOKEN, report, startTestServer, type TestServer } from '../support/server';

/**
 * Per-address limits on real Redis: reports and failed auth, shared by two server processes
 * on one Redis (replicas), 429 with Retry-After and the JSON error body, X-Forwarded-For
 * believed only from a trusted proxy, IPv6 counted by /64.
 */
const reports = (n: number, machine = randomUUID()) => ({ reports: Array.from({ length: n }, () => report({ machine, installed: { six: '1.0' } })) });
const off = { reportsPerMinute: 0, authFailuresPerMinute: 0, authBlockSeconds: 300, reportsPerSourcePerMinute: 0, authFailuresPerBlockPerMinute: 0, enrolmentsPerAddressPerHour: 0, enrolmentsPerBlockPerHour: 0 };

describe('rate limits', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (over: Parameters<typeof startTestServer>[0]) => {
    const s = await startTestServer(over);
    servers.push(s);
    return s;
  };

  test('reports per address are counted across replicas; over the limit: 429, Retry-After, nothing stored', async () => {
    const a = await start({ limits: { ...off, reportsPerMinute: 10 } });
    const b = await start({ keyPrefix: a.config.keyPrefix, limits: { ...off, reportsPerMinute: 10 } });
    expect((await a.postReports(reports(6))).status).toBe(202);
    expect((await b.postReports(reports(4))).status).toBe(202);
    const machine = randomUUID();
    for (const s of [a, b]) {
      const r = await s.postReports(reports(1, machine));
      expect(r.status).toBe(429);
      expect(r.json).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/reports-per-address.*retry after \d+ s/) } });
      const after = Number(r.headers.get('retry-after'));
      expect(after).toBeGreaterThanOrEqual(1);
      expect(after).toBeLessThanOrEqual(60);
    }
    expect((await a.req('GET', `/v1/reports?machine=${machine}`)).json.reports).toEqual([]);
    // Reads and pins are not limited.
    expect((await a.req('GET', `/v1/pins?machine=${machine}`, undefined, null)).status).toBe(200);
  });

  test('behind a trusted proxy each forwarded client has its own allowance; otherwise X-Forwarded-For is ignored', async () => {
    const proxied = await start({ trustProxy: ['loopback'], limits: { ...off, reportsPerMinute: 3 } });
    const xff = (ip: string) => ({ 'x-forwarded-for': ip, 'content-type': 'application/json' });
    const post = (s: TestServer, ip: string, n = 1) => s.postReports(JSON.stringify(reports(n)), undefined, xff(ip)).then((r) => r.status);
    expect(await post(proxied, '203.0.113.5', 3)).toBe(202);
    expect(await post(proxied, '203.0.113.5')).toBe(429);
    expect(await post(proxied, '203.0.113.6')).toBe(202);
    // One IPv6 /64 is one client.
    expect(await post(proxied, '2001:db8:1:2::1', 3)).toBe(202);
    expect(await post(proxied, '2001:db8:1:2:ffff::9')).toBe(429);
    expect(await post(proxied, '2001:db8:1:3::1')).toBe(202);

    const direct = await start({ limits: { ...off, reportsPerMinute: 3 } });
    expect(await post(direct, '203.0.113.7', 3)).toBe(202);
    expect(await post(direct, '203.0.113.8')).toBe(429);
  });

  test('failed auth: over the limit every credentialed request from that address gets 429 for the block time', async () => {
    const s = await start({ trustProxy: ['loopback'], limits: { ...off, authFailuresPerMinute: 5, authBlockSeconds: 300 } });
    const from = (ip: string, token: string | null) => ({ 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}) });
    for (let i = 0; i < 5; i++) expect((await s.req('GET', '/v1/rollouts', undefined, null, from('198.51.100.1', `wrong-${i}`))).status).toBe(401);
    const over = await s.req('GET', '/v1/rollouts', undefined, null, from('198.51.100.1', 'wrong-6'));
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe('rate_limited');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(200);
    // Even a good token from the blocked address waits; other addresses do not.
    expect((await s.req('GET', '/v1/rollouts', undefined, null, from('198.51.100.1', ADMIN_TOKEN))).status).toBe(429);
    expect((await s.req('GET', '/v1/rollouts', undefined, null, from('198.51.100.2', ADMIN_TOKEN))).status).toBe(200);
    // Requests without credentials are not guesses: open routes and a plain 401 stay as they were.
    expect((await s.req('GET', '/v1/rollouts', undefined, null, from('198.51.100.1', null))).status).toBe(401);
    expect((await s.postReports(reports(1), undefined, from('198.51.100.1', null))).status).toBe(202);
  });

  test('addressKey: IPv4 as is (also IPv4-mapped), IPv6 by /64', () => {
    expect(addressKey('203.0.113.5')).toBe('203.0.113.5');
    expect(addressKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
    expect(addressKey('not an ip')).toBe('unknown');
  });
});
