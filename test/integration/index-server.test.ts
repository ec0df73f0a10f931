import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { IndexClient, IndexUnavailable, NotOnIndex } from '../../server/index/client';
import { startIndexServer, type IndexServer } from '../support/index-server';
import { FIXTURES, startTestServer, type TestServer } from '../support/server';

/**
 * Requires-Python from a REAL package index: devpi-server started once for this file
 * (test/support/index-server.ts), offline, serving toy wheels with Requires-Python
 * metadata through its PEP 691 JSON and PEP 503 HTML simple API. What devpi does not do
 * (ETags, hostile answers) is checked against a small PEP 691 server of the test's own.
 */
let index: IndexServer;

beforeAll(async () => {
  index = await startIndexServer();
  await index.upload('cliff', '4.9.1', '>=3.9');
  await index.upload('cliff', '4.10.0', '>=3.10');
  await index.upload('oslo.log', '8.4.0');
}, 120_000);
afterAll(async () => {
  await index?.stop();
});

const client = (url = index.simple, over: Partial<ConstructorParameters<typeof IndexClient>[0]> = {}, fetchFn?: typeof fetch) =>
  new IndexClient({ url, timeoutMs: 5000, maxBytes: 1024 * 1024, ...over }, fetchFn);

describe('Requires-Python from a real index (devpi-server)', () => {
  test('PEP 691 JSON: each release\'s own Requires-Python; none declared is null; a missing release is named', async () => {
    const r = await client().requiresPython('cliff', ['4.10.0', '4.9.1', '4.11.0']);
    expect(r.url).toBe(`${index.simple}cliff/`);
    expect(r.releases.get('4.10.0')?.requiresPython).toBe('>=3.10');
    expect(r.releases.get('4.9.1')?.requiresPython).toBe('>=3.9');
    expect(r.missing).toEqual(['4.11.0']);
    expect((await client().requiresPython('oslo_log', ['8.4.0'])).releases.get('8.4.0')?.requiresPython).toBeNull();
    await expect(client().requiresPython('no-such-project', ['1.0'])).rejects.toBeInstanceOf(NotOnIndex);
  });

  test('PEP 503 HTML with data-requires-python gives the same answer', async () => {
    let type = '';
    const htmlOnly: typeof fetch = async (input, init) => {
      const res = await fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), accept: 'text/html' } });
      type = res.headers.get('content-type') ?? '';
      return res;
    };
    const r = await client(index.simple, {}, htmlOnly).requiresPython('cliff', ['4.10.0', '4.9.1']);
    expect(type).toMatch(/^text\/html/);
    expect(r.releases.get('4.10.0')?.requiresPython).toBe('>=3.10');
    expect(r.releases.get('4.9.1')?.requiresPython).toBe('>=3.9');
  });

  test('the server reads it when a rollout starts: the cliff release that dropped py3.9 is split on its own', async () => {
    const s: TestServer = await startTestServer({ index: { url: index.simple, timeoutMs: 5000 } });
    try {
      const before = readFileSync(join(FIXTURES, 'upper-constraints-before-cliff-split.txt'), 'utf8');
      expect((await s.req('PUT', '/v1/constraints?branch=stable/2099.1', before)).status).toBe(200);
      const r = await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.10.0', branch: 'stable/2099.1', stages: [100 / 2, 100] });
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ requiresPython: '>=3.10', stableRequiresPython: '>=3.9', requiresPythonSource: 'index', keptPythons: ['3.9'] });
      const [created] = (await s.req('GET', `/v1/rollouts/${r.json.id}/events`)).json.events;
      expect(created.evidence).toMatchObject({ requiresPythonUrl: `${index.simple}cliff/`, candidateLines: [{ before: 'cliff===4.9.1', after: ["cliff===4.9.1;python_version=='3.9'", "cliff===4.10.0;python_version>='3.10'"] }] });
      // A release the index does not have is refused, naming the index.
      const missing = await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.11.0', branch: 'stable/2099.1' });
      expect(missing.status).toBe(400);
      expect(missing.json.error.message).toBe(`cliff 4.11.0 is not on the package index (${index.simple}cliff/); check the version, or give requiresPython ('' for none) to start without the index`);
      // requiresPython in the request wins; the index is not asked.
      const given = await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.11.0', branch: 'stable/2099.1', requiresPython: '>=3.11' });
      expect(given.json).toMatchObject({ requiresPythonSource: 'request', keptPythons: ['3.9', '3.10'] });
    } finally {
      await s.close();
    }
  });

  test('an index that cannot be reached is a clear refusal (503), and nothing is created', async () => {
    const down = `http://127.0.0.1:${await closedPort()}/simple/`;
    const s = await startTestServer({ index: { url: down, timeoutMs: 2000 } });
    try {
      const r = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
      expect(r.status).toBe(503);
      expect(r.json.error).toEqual({
        code: 'unavailable', field: 'requiresPython',
        message: `cannot read Requires-Python of oslo.log 8.4.0 from the package index: cannot reach ${down}oslo-log/: ECONNREFUSED; retry, or give requiresPython ('' for none) to start without the index`,
      });
      expect((await s.req('GET', '/v1/rollouts')).json.rollouts).toEqual([]);
      expect((await s.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null)).headers.get('x-depcanary-overrides')).toBe('');
    } finally {
      await s.close();
    }
  });
});

describe('index answers depcanary does not trust', () => {
  let srv: Server;
  let base: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const seen: (string | undefined)[] = [];
  beforeAll(async () => {
    srv = createServer((req, res) => {
      seen.push(req.headers['if-none-match'] as string | undefined);
      handler(req, res);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/simple/`;
  });
  afterAll(async () => {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });

  const page = JSON.stringify({ meta: { 'api-version': '1.1' }, name: 'x', files: [{ filename: 'x-2.0-py3-none-any.whl', url: 'x', hashes: {}, 'requires-python': '>=3.11' }] });

  test('ETag caching: the page is revalidated with If-None-Match and a 304 reuses it', async () => {
    handler = (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', etag: '"v1"' }).end(page);
    };
    const c = client(base);
    seen.length = 0;
    expect((await c.requiresPython('x', ['2.0'])).releases.get('2.0')?.requiresPython).toBe('>=3.11');
    expect((await c.requiresPython('x', ['2.0'])).releases.get('2.0')?.requiresPython).toBe('>=3.11');
    expect(seen).toEqual([undefined, '"v1"']);
    expect(c.revalidated).toBe(1);
  });

  test.each([
    ['not JSON', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end('{nope'), /not valid JSON/],
    ['not a project page', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end('{"meta":{"api-version":"2.0"},"name":"x","files":[]}'), /not a PEP 691 project detail \(meta.api-version: must be 1.x\)/],
    ['another content type', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(page), /content type "application\/json", not a simple-API page/],
    ['a server error', (res: ServerResponse) => res.writeHead(502).end('bad gateway'), /answered 502/],
    ['too large (declared)', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json', 'content-length': String(2 * 1024 * 1024) }).end(), /more than the 1048576 allowed/],
    ['too large (streamed)', (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      const chunk = '<a href="x">x-1.0.tar.gz</a>'.repeat(4000);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    }, /more than the 1048576 bytes allowed/],
    ['a bad Requires-Python', (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end(page.replace('>=3.11', '>=3.11; rm -rf /')), /not a PEP 440 specifier/],
  ])('%s is an IndexUnavailable with the reason, never a guess', async (_name, respond, why) => {
    handler = (_req, res) => respond(res);
    const err = await client(base).requiresPython('x', ['2.0']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IndexUnavailable);
    expect((err as Error).message).toMatch(why);
  });

  test('a server that never answers times out', async () => {
    handler = () => undefined;
    const t0 = Date.now();
    const err = await client(base, { timeoutMs: 300 }).requiresPython('x', ['2.0']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IndexUnavailable);
    expect((err as Error).message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a hostile HTML page is read without choking (overlong anchors skipped)', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<a '.repeat(300_000) + `<a href="y" data-requires-python="&gt;=3.12">x-2.0.tar.gz</a>`);
    const hostile = await client(base).requiresPython('x', ['2.0']);
    expect(hostile.missing).toEqual(['2.0']); // one overlong anchor, skipped
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`${'<abbr>y</abbr><br/>\n'.repeat(40_000)}<a href="y" data-requires-python="&gt;=3.12">x-2.0.tar.gz</a>`);
    const r = await client(base).requiresPython('x', ['2.0']);
    expect(r.releases.get('2.0')?.requiresPython).toBe('>=3.12');
  });
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
