import { connect, type Socket } from 'node:net';
import { sendRawBytes } from '../support/raw-http';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The HTTP edges on a real server: the connection cap, a client that sends its headers too
 * slowly (slowloris), nosniff on the pins fast path too.
 */
describe('HTTP edges', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ maxConnections: 3, headersTimeoutMs: 1500, requestTimeoutMs: 3000 });
  });
  afterAll(() => s?.close());

  const open = (): Promise<Socket> => new Promise((res, rej) => {
    const u = new URL(s.url);
    const c = connect(Number(u.port), u.hostname, () => res(c));
    c.on('error', rej);
  });
  const closedByServer = (c: Socket, ms: number) => new Promise<boolean>((res) => {
    const t = setTimeout(() => res(false), ms);
    c.on('close', () => {
      clearTimeout(t);
      res(true);
    });
  });

  test('connections beyond DEPCANARY_MAX_CONNECTIONS are refused; the server takes new ones once others close', async () => {
    const held = [await open(), await open(), await open()];
    const extra = await open();
    expect(await closedByServer(extra, 2000)).toBe(true);
    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const r = await sendRawBytes(s.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(200);
    for (const c of held) c.destroy();
  });

  test('headers sent a byte at a time are cut off at the headers timeout with a JSON 408', async () => {
    const c = await open();
    const t0 = Date.now();
    let reply = '';
    c.on('data', (d: Buffer) => { reply += d.toString(); });
    const closed = closedByServer(c, 8000);
    const line = 'GET /v1/rollouts HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let i = 0;
    const drip = setInterval(() => {
      if (c.writable) c.write(i < line.length ? line[i++]! : 'a');
    }, 100);
    expect(await closed).toBe(true);
    clearInterval(drip);
    expect(Date.now() - t0).toBeLessThan(1500 + 2500);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
  });

  test('the pins fast path and the API both send nosniff', async () => {
    for (const path of ['/v1/constraints.txt', '/v1/rollouts', '/nope']) {
      const r = await fetch(s.url + path);
      expect([path, r.headers.get('x-content-type-options')]).toEqual([path, 'nosniff']);
    }
  });
});
