import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { listRoutes, type RouteInfo } from '../../server/api/route-list';
import { gerritExtension } from '../../server/gerrit/extension';
import { notifyExtension } from '../../server/notify/extension';
import { webExtension } from '../../server/web/routes';
import { sendHttp, sendRawBytes, type RawReply, type RawRequest } from '../support/raw-http';
import { ADMIN_TOKEN, report, startTestServer, type TestServer } from '../support/server';
import { dumpState } from '../support/store';

/**
 * Thousands of malformed requests across every route the app has (read from the express app
 * and the fast path, so a new route is fuzzed without being listed here): hostile path ids
 * and %-escapes, queries, tokens, content types and encodings (broken gzip, deflate, brotli),
 * bodies (random JSON, near-valid reports with one field broken, truncated, deep, too big),
 * and raw bytes Node's own parser refuses. Every reply: not 5xx, not a hang, JSON when an
 * error, `nosniff`, never a 2xx to a write. Afterwards the stored Redis state is
 * byte-identical (a DUMP of every key) to what it was before.
 */
const RUNS = 3000;
const REPLY_MS = 10_000;

describe('fuzzing every route with malformed requests', () => {
  let s: TestServer;
  let routes: RouteInfo[];
  let rolloutId: string;
  let viewer: string;
  let rm: string;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  beforeAll(async () => {
    s = await startTestServer({ headersTimeoutMs: 2000, requestTimeoutMs: 4000 }, [gerritExtension({}), notifyExtension(), webExtension()]);
    routes = listRoutes(s.server.app);
    rolloutId = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] })).json.id;
    viewer = (await s.req('POST', '/v1/tokens', { name: 'fuzz-viewer', role: 'viewer' })).json.token;
    rm = (await s.req('POST', '/v1/tokens', { name: 'fuzz-rm', role: 'release-manager' })).json.token;
    const machine = randomUUID();
    expect((await s.postReports(report({ machine, installed: { 'oslo.log': '8.4.0' } }))).status).toBe(202);
  });
  afterAll(async () => {
    agent.destroy();
    await s?.close();
  });

  test('the route list is read from the app: core, extensions and the fast path', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const r of ['GET /v1/constraints.txt', 'POST /v1/reports', 'POST /v1/rollouts/:id/promote', 'DELETE /v1/tokens/:name',
      'POST /v1/admin/gerrit/outbox/:id/retry', 'POST /v1/admin/gerrit/watch', 'POST /v1/rollouts/:id/approve', 'POST /v1/webhooks/deliveries/:id/redeliver',
      'GET /', 'GET /static/*']) expect(names).toContain(r);
    expect(routes.length).toBeGreaterThanOrEqual(30);
  });

  test(`${RUNS} generated malformed requests: 0 × 5xx, 0 hangs, every error JSON, state unchanged`, async () => {
    const before = await dumpState(s.server.runtime.redis, s.config.keyPrefix);
    const hits = new Map<string, number>();
    const statuses = new Map<number, number>();
    const tokens = { none: null, viewer, rm, admin: ADMIN_TOKEN };

    await fc.assert(
      fc.asyncProperty(requestArb(routes, rolloutId), async (g) => {
        const req = build(g, tokens);
        const reply = await sendHttp(s.url, req, agent, REPLY_MS);
        if (reply.status === -1) return; // Node's client would not send it; nothing reached the server
        hits.set(g.route, (hits.get(g.route) ?? 0) + 1);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        check(req, reply);
      }),
      { numRuns: RUNS, endOnFailure: false },
    );

    for (const raw of RAW_REQUESTS) check({ method: 'RAW', path: JSON.stringify(raw).slice(0, 80) }, await sendRawBytes(s.url, raw, REPLY_MS));
    // Incomplete requests are cut off by the header and request timeouts: a JSON 408 (or,
    // for a body that stops coming, the 400 of the aborted body read).
    for (const [raw, status] of [['\r\n\r\n', [408]], ['GET /v1/rollouts HTTP/1.1\r\nHost: x\r\n', [408]], ['POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{', [400, 408]]] as const) {
      const reply = await sendRawBytes(s.url, raw, REPLY_MS);
      check({ method: 'RAW', path: JSON.stringify(raw) }, reply);
      expect(status).toContain(reply.status);
      expect(reply.ms).toBeLessThan(REPLY_MS);
    }

    const after = await dumpState(s.server.runtime.redis, s.config.keyPrefix);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect([k, after.get(k)]).toEqual([k, v]);
    // Every route got its share of the requests, and the replies were not all one kind.
    for (const r of routes) expect([`${r.method} ${r.path}`, (hits.get(`${r.method} ${r.path}`) ?? 0) >= 20]).toEqual([`${r.method} ${r.path}`, true]);
    for (const st of [400, 401, 404]) expect(statuses.get(st) ?? 0).toBeGreaterThan(0);
  }, 240_000);
});

function check(req: RawRequest, reply: RawReply): void {
  const what = `${req.method} ${req.path.slice(0, 120)} → ${reply.status} ${reply.body.slice(0, 200)}`;
  if (reply.hang) throw new Error(`no reply within ${REPLY_MS} ms: ${what}`);
  if (reply.status === 0) throw new Error(`connection failed (${reply.error}): ${what}`);
  if (reply.status >= 500) throw new Error(`server error: ${what}`);
  if (reply.headers['x-content-type-options'] !== 'nosniff') throw new Error(`no nosniff: ${what}`);
  if (reply.status >= 400 && req.method !== 'HEAD') {
    let body: { error?: { code?: unknown; message?: unknown } } | null = null;
    try {
      body = JSON.parse(reply.body);
    } catch {
      /* checked below */
    }
    if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') throw new Error(`error without the JSON error body: ${what}`);
    if (!String(reply.headers['content-type']).startsWith('application/json')) throw new Error(`error not served as JSON: ${what}`);
  }
  if (!['GET', 'HEAD', 'OPTIONS', 'RAW'].includes(req.method) && reply.status < 300) throw new Error(`a malformed write was accepted: ${what}`);
}

// --- generators ---------------------------------------------------------------------------

interface Generated {
  route: string;
  method: string;
  path: string;
  query: string;
  auth: { kind: 'none' | 'viewer' | 'rm' | 'admin' | 'raw'; raw?: string };
  contentType: string | null;
  encoding: 'none' | 'gzip' | 'deflate' | 'br' | 'gzip-broken' | 'deflate-broken' | 'br-broken' | 'identity' | 'x-unknown' | 'gzip, gzip';
  body: string | Buffer | null;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

/** Characters Node sends in a path as they are (0x21-0x7e), the rest %-escaped; a lone `%` stays raw. */
function pathSafe(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x21 && c <= 0x7e && ch !== '?' && ch !== '#') out += ch;
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
  return out;
}

const segment = fc.oneof(
  fc.constantFrom('%', '%E0%A4%A', '%zz', '%C0%AF', '%00', '..', '%2e%2e%2f', '%2F', '%FF%FE', 'a%', '%%', '%u0041', '', 'CON', '.', '%ED%A0%80', '%F4%90%80%80'),
  fc.string({ maxLength: 40 }).map(pathSafe),
  fc.string({ unit: 'binary', maxLength: 60 }).map(pathSafe),
  fc.stringMatching(/^[a-z0-9._-]{0,200}$/),
  fc.uuid(),
  fc.constant('x'.repeat(3000)),
);

const queryValue = fc.oneof(segment, fc.uuid(), fc.constantFrom('-1', '0', '1e309', 'NaN', '9'.repeat(400), 'active', '[]', '{}'));
const queryKey = fc.oneof(fc.constantFrom('machine', 'limit', 'state', 'machine[]', 'machine[a]', '__proto__', 'constructor', 'machine.toString'), segment);
const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(queryKey, queryValue), { maxLength: 6 }).map((kv) => (kv.length ? `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}` : '')),
  fc.constantFrom('?', '?&&&', '?%', '?machine', '?machine=%zz', `?${'machine=1&'.repeat(500)}`),
);

const auth = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Generated['auth']>({ kind: 'none' }, { kind: 'viewer' }, { kind: 'rm' }, { kind: 'admin' }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'bearer', 'Basic YWRtaW46YWRtaW4=', 'Token abc', `Bearer ${'x'.repeat(6000)}`, 'Bearer dct_', 'Bearer %00', `Bearer ${ADMIN_TOKEN} extra`, ADMIN_TOKEN),
      fc.string({ maxLength: 60 }).map((x) => `Bearer ${x.replace(/[^\x21-\x7e]/g, '')}`),
    ).map((raw) => ({ kind: 'raw' as const, raw })),
  },
);

const contentType = fc.constantFrom(null, 'application/json', 'application/json', 'application/json; charset=utf-16', 'application/json; charset=latin1',
  'application/json; charset=bogus', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '*/*', ';;;', 'application/vnd.api+json');

const encoding = fc.constantFrom<Generated['encoding']>('none', 'none', 'none', 'gzip', 'deflate', 'br', 'gzip-broken', 'deflate-broken', 'br-broken', 'identity', 'x-unknown', 'gzip, gzip');

/** A valid report with exactly one thing broken, so it must be refused. */
const brokenReport = fc.tuple(
  fc.constantFrom<[string, unknown]>(
    ['id', 'not-a-uuid'], ['id', 42], ['machine', null], ['machine', `${randomUUID()}x`], ['outcome', 'passed'], ['outcome', ''],
    ['installed', { 'bad name!': '1.0' }], ['installed', { six: 'not a version' }], ['installed', []], ['python', '3'], ['python', 3.11],
    ['durationMs', -1], ['durationMs', 1.5], ['durationMs', '1'], ['durationMs', 1e20], ['failedTests', ['a\tb']], ['failedTests', Array(101).fill('t')],
    ['failedTests', ['']], ['finishedAt', 'yesterday'], ['finishedAt', ''], ['project', ''], ['project', 'a\nb'], ['project', 'x'.repeat(101)],
    ['pinned', { six: '' }], ['client', 'x'.repeat(101)], ['unknownField', 1], ['__proto__', { polluted: true }], ['constructor', { prototype: 1 }],
    ['installed', Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`p${i}`, '1.0']))], ['id', undefined], ['finishedAt', undefined],
  ),
  fc.boolean(),
  fc.integer({ min: 1, max: 3 }),
).map(([[field, value], batch, n]) => {
  const r: Record<string, unknown> = report({ machine: randomUUID(), installed: { 'oslo.log': '8.4.0' } });
  if (value === undefined) delete r[field];
  else if (field === '__proto__') Object.defineProperty(r, '__proto__', { value, enumerable: true });
  else r[field] = value;
  const good = () => report({ machine: randomUUID(), installed: { 'oslo.log': '8.4.0' } });
  return JSON.stringify(batch ? { reports: [...Array.from({ length: n - 1 }, good), r] } : r);
});

const body = fc.oneof(
  { weight: 40, arbitrary: fc.constant(null) },
  { weight: 60, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 60, arbitrary: brokenReport },
  { weight: 20, arbitrary: fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1 - (j.length >> 1)))) },
  { weight: 20, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 20, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  {
    weight: 20,
    arbitrary: fc.constantFrom(
      '['.repeat(5000), '{"a":'.repeat(3000), '{"reason": "x", "revision": 1e400}', '{"__proto__": {"admin": true}}', '{"reports": []}', '{"reports": null}',
      `{"reports": [${'{},'.repeat(150)}{}]}`, '"string"', '12', 'null', 'true', '\uFEFF{}', '{"name":"a","role":"root"}', `{"library":"${'a'.repeat(5000)}"}`,
    ),
  },
  { weight: 1, arbitrary: fc.constant('x'.repeat(300 * 1024)) },
);

function requestArb(routes: RouteInfo[], existingId: string): fc.Arbitrary<Generated> {
  return fc.record({
    route: fc.constantFrom(...routes),
    otherMethod: fc.option(fc.constantFrom(...METHODS), { freq: 5 }),
    segment: fc.oneof({ weight: 6, arbitrary: segment }, { weight: 1, arbitrary: fc.constant(existingId) }),
    query, auth, contentType, encoding, body,
  }).map((g) => {
    const method = g.otherMethod ?? g.route.method;
    // The stored rollout's real id only where nothing can be written.
    const seg = g.segment === existingId && method !== 'GET' ? `${existingId}-nope` : g.segment;
    const path = g.route.path.replace(/:[A-Za-z]+|\*/g, () => seg).replace(/^(?!\/)/, '/');
    return { route: `${g.route.method} ${g.route.path}`, method, path, query: g.query, auth: g.auth, contentType: g.contentType, encoding: g.encoding, body: g.body };
  });
}

function build(g: Generated, tokens: Record<'none' | 'viewer' | 'rm' | 'admin', string | null>): RawRequest {
  const headers: Record<string, string> = {};
  const token = g.auth.kind === 'raw' ? null : tokens[g.auth.kind];
  if (g.auth.kind === 'raw') headers.authorization = g.auth.raw!;
  else if (token) headers.authorization = `Bearer ${token}`;
  if (g.contentType) headers['content-type'] = g.contentType;
  let body: Buffer | undefined = g.body === null ? undefined : Buffer.isBuffer(g.body) ? g.body : Buffer.from(g.body);
  // A write with a real privileged token, and an enrolment (open: an empty body is a good
  // one), carries a body no route can accept (strict schemas refuse an unknown key; the
  // constraints file refuses NUL), so "malformed" stays true.
  if (!['GET', 'HEAD'].includes(g.method) && (g.auth.kind === 'rm' || g.auth.kind === 'admin' || g.path.split('?')[0] === '/v1/enrol')) body = poison(body);
  if (body && g.encoding !== 'none') {
    const enc = {
      gzip: () => gzipSync(body!), deflate: () => deflateSync(body!), br: () => brotliCompressSync(body!),
      'gzip-broken': () => gzipSync(body!).subarray(0, Math.max(1, body!.length >> 1)), 'deflate-broken': () => Buffer.concat([Buffer.from([0x78, 0x9c]), body!]),
      'br-broken': () => Buffer.concat([Buffer.from([0xff, 0xff]), body!]), identity: () => body!, 'x-unknown': () => body!, 'gzip, gzip': () => gzipSync(body!),
    }[g.encoding];
    body = enc();
    headers['content-encoding'] = g.encoding.replace('-broken', '');
  }
  return { method: g.method, path: g.path + g.query, headers, body };
}

function poison(body: Buffer | undefined): Buffer {
  const text = body?.toString('utf8') ?? '';
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return Buffer.from(JSON.stringify({ ...v, '\u0000fuzz': true }));
  } catch {
    /* not JSON */
  }
  return Buffer.concat([body ?? Buffer.alloc(0), Buffer.from('\n\u0000 not a constraint line\n')]);
}

/** Requests Node's HTTP client will not send; the server's parser must answer them with JSON. */
const RAW_REQUESTS: string[] = [
  'GET /v1/rollouts HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n',
  'GET /v1/pins?machine=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  'POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  'POST /v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET http://evil.example/v1/rollouts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'FOO /v1/rollouts HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/rollouts HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /v1/rollouts\r\n\r\n',
  `GET /v1/rollouts HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  'GET /v1/rollouts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0001\u0002\r\n\r\n',
  'GET /v1/rollouts/\u00ff\u00fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /v1/rollouts/a%00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  '\u0000\u0001\u0002\u0003',
];
