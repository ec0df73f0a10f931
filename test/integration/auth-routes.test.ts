import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { listRoutes, type RouteInfo } from '../../server/api/route-list';
import { gerritExtension } from '../../server/gerrit/extension';
import { notifyExtension } from '../../server/notify/extension';
import { createLogger } from '../../server/logger';
import { hashToken, ROLE_RANK, type Role } from '../../server/store/token-store';
import { webExtension } from '../../server/web/routes';
import { closedPort } from '../support/process';
import { ADMIN_TOKEN, report, startTestServer, type TestServer } from '../support/server';

/**
 * Every route of the app (read from it, so a new route is covered without being listed),
 * with no token, malformed Authorization headers, wrong and revoked tokens and each role too
 * weak for it: 401 / 403 with the JSON error body. Routes open to anyone are listed here
 * explicitly; a new open route fails this test until it is added. Then: token listing and
 * revocation (at once, on another server process too), public read mode, and a grep of
 * every log line the run wrote (level trace) for every token and password it made.
 */
const OPEN = [
  'GET /v1/constraints.txt', 'GET /constraints/upper/:series', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /v1/pins', 'POST /v1/enrol',
  'GET /dashboard/settings.json', 'GET /', 'GET /rollouts/:id', 'GET /static/*', 'GET /vendor/uplot/uPlot.esm.js', 'GET /vendor/uplot/uPlot.min.css',
];
const GERRIT_PASSWORD = 'gerrit-http-password-7d1c55e0a9';
const FILE_TOKEN = 'file-viewer-token-3b8f2e61c4d0';

const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(chunk.toString());
    done();
  },
});
const secrets: string[] = [ADMIN_TOKEN, GERRIT_PASSWORD, FILE_TOKEN];

const fill = (path: string) => path.replace(/:[A-Za-z]+/g, 'x').replace('*', 'x');
const key = (r: RouteInfo) => `${r.method} ${r.path}`;

describe('auth on every route', () => {
  let s: TestServer;
  let other: TestServer;
  let routes: RouteInfo[];
  const tokens: Partial<Record<Role, string>> = {};

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-auth-'));
    const tokensFile = join(dir, 'tokens.json');
    writeFileSync(tokensFile, JSON.stringify([{ name: 'file-viewer', role: 'viewer', sha256: hashToken(FILE_TOKEN) }]));
    // Gerrit on a closed loopback port: every attempt fails, and its errors are logged.
    const gerritEnv = { GERRIT_URL: `http://127.0.0.1:${await closedPort()}`, GERRIT_USER: 'depcanary-bot', GERRIT_PASSWORD, GERRIT_BASE_REFRESH_SECONDS: '0' };
    const logger = createLogger('trace', sink);
    s = await startTestServer({ tokensFile }, [gerritExtension(gerritEnv), notifyExtension(), webExtension()], logger);
    other = await startTestServer({ keyPrefix: s.config.keyPrefix, tokensFile }, [], logger);
    routes = listRoutes(s.server.app);
    for (const role of ['reporter', 'viewer', 'release-manager'] as const) {
      const r = await s.req('POST', '/v1/tokens', { name: `auth-${role}`, role });
      expect(r.status).toBe(201);
      tokens[role] = r.json.token;
      secrets.push(r.json.token);
    }
    tokens.admin = ADMIN_TOKEN;
  });
  afterAll(async () => {
    await other?.close();
    await s?.close();
  });

  test('every route is either guarded or on the open list', () => {
    const open = routes.filter((r) => r.role === null).map(key).sort();
    expect(open).toEqual([...OPEN].sort());
    expect(routes.filter((r) => r.role !== null).length).toBeGreaterThanOrEqual(15);
  });

  test('no token, malformed headers, wrong and revoked tokens → 401; too weak a role → 403', async () => {
    const made = await s.req('POST', '/v1/tokens', { name: 'auth-revoked', role: 'admin' });
    secrets.push(made.json.token);
    expect((await s.req('DELETE', '/v1/tokens/auth-revoked')).status).toBe(200);
    const bad: (string | undefined)[] = [
      undefined, '', 'Bearer', 'Bearer ', 'Basic YWRtaW46c2VjcmV0', `Token ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN} x`, `Bearer${ADMIN_TOKEN}`,
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}X`, `Bearer ${ADMIN_TOKEN.toUpperCase()}`, 'Bearer dct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', `Bearer ${made.json.token}`,
      `Bearer ${hashToken(ADMIN_TOKEN)}`,
    ];
    let checked = 0;
    for (const r of routes.filter((x) => x.role !== null)) {
      for (const h of bad) {
        const res = await s.req(r.method, fill(r.path), undefined, null, h === undefined ? {} : { authorization: h });
        expect([key(r), h, res.status, res.json?.error?.code]).toEqual([key(r), h, 401, 'unauthorized']);
        checked++;
      }
      for (const weaker of (['reporter', 'viewer', 'release-manager'] as const).filter((w) => ROLE_RANK[w] < ROLE_RANK[r.role!])) {
        const res = await s.req(r.method, fill(r.path), undefined, tokens[weaker]!);
        expect([key(r), weaker, res.status, res.json?.error?.code]).toEqual([key(r), weaker, 403, 'forbidden']);
        checked++;
      }
      // Routes for reporters take only reporter tokens or machine credentials: every other role is refused.
      if (r.role === 'reporter') {
        for (const other of ['viewer', 'release-manager', 'admin'] as const) {
          const res = await s.req(r.method, fill(r.path), undefined, tokens[other]!);
          expect([key(r), other, res.status, res.json?.error?.code]).toEqual([key(r), other, 403, 'forbidden']);
          checked++;
        }
      }
      // The file's viewer token is a real token: refused only where viewer is too weak.
      const f = await s.req(r.method, fill(r.path), undefined, FILE_TOKEN);
      if (r.role === 'viewer') expect([key(r), f.status]).not.toEqual([key(r), 401]);
      else expect([key(r), f.status]).toEqual([key(r), 403]);
    }
    expect(checked).toBeGreaterThan(200);
  });

  test('GET /v1/tokens lists names and roles, never hashes; DELETE revokes at once, on every server process', async () => {
    const made = await s.req('POST', '/v1/tokens', { name: 'auth-short-lived', role: 'release-manager' });
    secrets.push(made.json.token);
    expect((await s.req('POST', '/v1/tokens', { name: 'auth-short-lived', role: 'viewer' })).status).toBe(409);
    expect((await s.req('POST', '/v1/tokens', { name: 'bootstrap-admin', role: 'viewer' })).status).toBe(409);
    const list = await s.req('GET', '/v1/tokens');
    expect(list.status).toBe(200);
    expect(list.json.tokens).toEqual(expect.arrayContaining([
      { name: 'bootstrap-admin', role: 'admin', source: 'env' },
      { name: 'file-viewer', role: 'viewer', source: 'file' },
      expect.objectContaining({ name: 'auth-short-lived', role: 'release-manager', source: 'api', createdBy: 'bootstrap-admin (admin)' }),
    ]));
    expect(list.text).not.toMatch(/[0-9a-f]{64}|sha256|dct_/);
    for (const t of secrets) expect(list.text).not.toContain(t);

    expect((await other.req('GET', '/v1/rollouts', undefined, made.json.token)).status).toBe(200);
    expect((await s.req('DELETE', '/v1/tokens/auth-short-lived')).json).toEqual({ name: 'auth-short-lived', revoked: true });
    const after = await other.req('GET', '/v1/rollouts', undefined, made.json.token);
    expect([after.status, after.json.error.message]).toEqual([401, 'unknown or revoked token']);
    expect((await s.req('DELETE', '/v1/tokens/auth-short-lived')).status).toBe(404);
    expect((await s.req('DELETE', '/v1/tokens/file-viewer')).status).toBe(409);
    expect((await s.req('DELETE', '/v1/tokens/bad%20name%0A')).status).toBe(400);
  });

  test('a Gerrit failure is reported without its password', async () => {
    const r = await s.req('POST', '/v1/admin/gerrit/sync-base');
    expect(r.status).toBe(503);
    expect(r.text).not.toContain(GERRIT_PASSWORD);
  });

  test('the logs of the whole run (level trace) hold no token and no password', async () => {
    // Exercise the paths that log: a rollback whose Gerrit proposal fails to send, reports,
    // rejected input, a failed auth, the shutdown of a second process.
    const ro = (await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '6.0.0' })).json;
    expect((await s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'auth test' })).status).toBe(200);
    const deadline = Date.now() + 15_000;
    while (!logLines.some((l) => /proposal|deliver|attempt/i.test(l) && /"level":(40|50)/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await s.req('POST', '/v1/reports', report({ machine: '6f1f7a52-8c4e-4a43-9c55-3c2d9e0f6a11', installed: { six: '1.0' } }), null, { authorization: `Bearer ${ADMIN_TOKEN}` });
    const enrolled = await s.enrol();
    secrets.push(enrolled.credential);
    expect((await s.req('POST', '/v1/reports', report({ machine: enrolled.machine, installed: { six: '1.0' } }), enrolled.credential)).status).toBe(202);
    await s.req('POST', '/v1/reports', report({ machine: '6f1f7a52-8c4e-4a43-9c55-3c2d9e0f6a11', installed: { six: '1.0' } }), enrolled.credential);
    await s.req('POST', '/v1/reports', report({ machine: enrolled.machine, installed: { six: '1.0' } }), tokens.reporter!);
    await s.req('POST', '/v1/reports', '{"token": "' + ADMIN_TOKEN + '"}', null, { 'content-type': 'application/json' });
    await other.close();
    const text = logLines.join('');
    expect(logLines.length).toBeGreaterThan(4);
    expect(text).toMatch(/ECONNREFUSED|fetch failed|refused/);
    expect(logLines.some((l) => /"level":(40|50)/.test(l))).toBe(true);
    for (const t of secrets) expect(text).not.toContain(t);
    for (const t of secrets) expect(text).not.toContain(hashToken(t));
  });
});

describe('public read mode (DEPCANARY_PUBLIC_READ)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ publicRead: true }, [gerritExtension({}), webExtension()]);
  });
  afterAll(() => s?.close());

  test('viewer routes answer without a token; everything else, and any bad token, is still refused', async () => {
    const ro = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' })).json;
    expect((await s.req('GET', '/v1/rollouts', undefined, null)).json.rollouts.map((r: { id: string }) => r.id)).toEqual([ro.id]);
    expect((await s.req('GET', `/v1/rollouts/${ro.id}`, undefined, null)).status).toBe(200);
    expect((await s.req('GET', '/dashboard/settings.json', undefined, null)).json).toEqual({ publicRead: true });
    for (const r of listRoutes(s.server.app).filter((x) => x.role !== null)) {
      const anon = await s.req(r.method, fill(r.path), undefined, null);
      if (r.role === 'viewer') expect([key(r), anon.status]).not.toEqual(expect.arrayContaining([401]));
      else expect([key(r), anon.status]).toEqual([key(r), 401]);
      const wrong = await s.req(r.method, fill(r.path), undefined, 'not-a-real-token');
      expect([key(r), wrong.status]).toEqual([key(r), 401]);
    }
    expect((await s.req('POST', `/v1/rollouts/${ro.id}/pause`, { reason: 'anonymous' }, null)).status).toBe(401);
    expect((await s.req('GET', `/v1/rollouts/${ro.id}`)).json.state).toBe('active');
  });
});

