import { randomUUID } from 'node:crypto';
import { addressKey } from '../../server/services/rate-limits';
import { addressBlock } from '../../server/services/sources';
import { ADMIN_TOKEN, report, startTestServer, type TestServer } from '../support/server';

/**
 * Per-address limits on real Redis: reports and failed auth, shared by two server processes
 * on one Redis (replicas), 429 with Retry-After and the JSON error body, X-Forwarded-For
 * believed only from a trusted proxy, IPv6 counted by /64.
 */
const reports = (n: number, machine: string = randomUUID()) => ({ reports: Array.from({ length: n }, () => report({ machine, installed: { six: '1.0' } })) });
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
    const ci = await a.reporter();
    expect((await a.postReports(reports(6), ci)).status).toBe(202);
    expect((await b.postReports(reports(4), ci)).status).toBe(202);
    const machine = randomUUID();
    for (const s of [a, b]) {
      const r = await s.postReports(reports(1, machine), ci);
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
    expect((await s.req('POST', '/v1/reports', reports(1), null, from('198.51.100.1', null))).status).toBe(401);
    expect((await s.req('GET', '/v1/pins?machine=6f1f7a52-8c4e-4a43-9c55-3c2d9e0f6a11', undefined, null, from('198.51.100.1', null))).status).toBe(200);
    // A reporter's credential from the blocked address waits too.
    expect((await s.postReports(reports(1), undefined, from('198.51.100.1', null))).status).toBe(429);
  });

  test('per source: a reporter token or an enrolment block has one allowance whatever address it reports from', async () => {
    const s = await start({ trustProxy: ['loopback'], limits: { ...off, reportsPerSourcePerMinute: 5 } });
    const ci = await s.reporter('ci-limited');
    const xff = (ip: string) => ({ 'x-forwarded-for': ip });
    expect((await s.postReports(reports(3), ci, xff('203.0.113.1'))).status).toBe(202);
    expect((await s.postReports(reports(2), ci, xff('198.51.100.1'))).status).toBe(202);
    const over = await s.postReports(reports(1), ci, xff('192.0.2.1'));
    expect(over.status).toBe(429);
    expect(over.json.error.message).toMatch(/^too many reports from this source .*\(reports-per-source\); retry after \d+ s$/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another CI system is another source.
    expect((await s.postReports(reports(1), await s.reporter('ci-other'), xff('192.0.2.1'))).status).toBe(202);
    // Machines enrolled from one /24 share their source's allowance, whichever address they report from.
    const m = await Promise.all(['198.18.7.1', '198.18.7.200'].map((ip) => s.enrol(ip)));
    expect((await s.postReports(reports(5, m[0]!.machine), m[0]!.credential, xff('203.0.113.50'))).status).toBe(202);
    expect((await s.postReports(reports(1, m[1]!.machine), m[1]!.credential, xff('192.0.2.77'))).status).toBe(429);
    const elsewhere = await s.enrol('198.18.8.1');
    expect((await s.postReports(reports(1, elsewhere.machine), elsewhere.credential)).status).toBe(202);
  });

  test('enrolments per address and per address block; failed credentials per block', async () => {
    const s = await start({ trustProxy: ['loopback'], limits: { ...off, enrolmentsPerAddressPerHour: 2, enrolmentsPerBlockPerHour: 3, authFailuresPerBlockPerMinute: 4 } });
    const enrol = (ip: string) => s.req('POST', '/v1/enrol', {}, null, { 'x-forwarded-for': ip });
    expect((await enrol('203.0.113.1')).status).toBe(201);
    expect((await enrol('203.0.113.1')).status).toBe(201);
    const perAddress = await enrol('203.0.113.1');
    expect([perAddress.status, perAddress.json.error.message]).toEqual([429, expect.stringMatching(/^too many enrolments from this address \(enrolments-per-address\); retry after \d+ s$/)]);
    expect(Number(perAddress.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await enrol('203.0.113.2')).status).toBe(201);
    const perBlock = await enrol('203.0.113.3');
    expect([perBlock.status, perBlock.json.error.message]).toEqual([429, expect.stringMatching(/enrolments-per-block/)]);
    expect((await enrol('203.0.114.3')).status).toBe(201);
    // IPv6: one /56 is one block
    const v6 = await start({ trustProxy: ['loopback'], limits: { ...off, enrolmentsPerBlockPerHour: 1 } });
    expect((await v6.req('POST', '/v1/enrol', {}, null, { 'x-forwarded-for': '2001:db8:1:2a00::1' })).status).toBe(201);
    expect((await v6.req('POST', '/v1/enrol', {}, null, { 'x-forwarded-for': '2001:db8:1:2aff:1::9' })).status).toBe(429);
    expect((await v6.req('POST', '/v1/enrol', {}, null, { 'x-forwarded-for': '2001:db8:1:2b00::1' })).status).toBe(201);
    // forged credentials from many addresses of one /24: the block is refused once over its limit
    const forged = (ip: string) => s.req('POST', '/v1/reports', reports(1), `dcm_${'A'.repeat(43)}`, { 'x-forwarded-for': ip }).then((r) => r.status);
    for (let i = 1; i <= 4; i++) expect(await forged(`198.51.100.${i}`)).toBe(401);
    expect(await forged('198.51.100.99')).toBe(429);
    expect(await forged('198.51.101.1')).toBe(401);
  });

  // an address as the per-address limits key it (IPv6 by /64) and as its block (sources: IPv4 /24, IPv6 /56)
  test.each([
    ['203.0.113.5', '203.0.113.5', '203.0.113.0/24'],
    ['::ffff:203.0.113.5', '203.0.113.5', '203.0.113.0/24'], // IPv4-mapped
    ['2001:db8:1:2::1', '2001:db8:1:2::/64', '2001:db8:1:0::/56'],
    ['2001:db8:1:2aff::1', '2001:db8:1:2aff::/64', '2001:db8:1:2a00::/56'],
    ['2001:0db8:0001:0002:ffff:0:0:9', '2001:db8:1:2::/64', '2001:db8:1:0::/56'],
    ['2001:0db8:0001:00ff:ffff:0:0:9', '2001:db8:1:ff::/64', '2001:db8:1:0::/56'],
    ['::1', '0:0:0:0::/64', '0:0:0:0::/56'],
    ['fe80::1', 'fe80:0:0:0::/64', 'fe80:0:0:0::/56'],
    [undefined, 'unknown', 'unknown'],
    ['not an ip', 'unknown', 'unknown'],
  ])('%s: address key %s, block %s', (ip, key, block) => {
    expect(addressKey(ip)).toBe(key);
    expect(addressBlock(ip)).toBe(block);
  });
});
