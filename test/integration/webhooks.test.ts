import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Webhook as Verifier } from 'standardwebhooks';
import { createLogger } from '../../server/logger';
import { controllerExtension } from '../../server/controller/extension';
import { notifyExtension } from '../../server/notify/extension';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Webhooks against real HTTP receivers on loopback. Signatures are checked with the Standard
 * Webhooks reference library (npm `standardwebhooks`), not with depcanary's own code. One
 * receiver fails each message's first two attempts (503, then a reset connection): depcanary
 * retries with backoff until a 2xx, with the same webhook-id and body every time. Each
 * receiver sees exactly the events its filters take, once delivered each; a redelivery sends
 * the same message again; a 410 is not retried; the secrets appear in no log line.
 */
interface Hit { id: string; timestamp: string; valid: boolean; body: any; status: number }

const secretA = `whsec_${randomBytes(32).toString('base64')}`;
const secretB = `whsec_${randomBytes(24).toString('base64')}`;
const logLines: string[] = [];
const sink = new Writable({ write(c: Buffer, _e, done) { logLines.push(c.toString()); done(); } });

function receiver(secret: string, answer: (id: string, n: number) => number | 'reset'): Promise<{ server: Server; url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const seen = new Map<string, number>();
  const verifier = new Verifier(secret);
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      let valid = true;
      try {
        verifier.verify(raw, { 'webhook-id': id, 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) });
      } catch {
        valid = false;
      }
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      const a = answer(id, n);
      hits.push({ id, timestamp: String(req.headers['webhook-timestamp']), valid, body: JSON.parse(raw), status: a === 'reset' ? 0 : a });
      if (a === 'reset') return req.socket.destroy();
      res.writeHead(a, a === 503 ? { 'retry-after': '0' } : {}).end();
    });
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/depcanary?token=abc`, hits })));
}

describe('webhooks', () => {
  let s: TestServer;
  let flaky: Awaited<ReturnType<typeof receiver>>;
  let critical: Awaited<ReturnType<typeof receiver>>;
  let gone: Awaited<ReturnType<typeof receiver>>;
  const delivered = (hits: Hit[]) => hits.filter((h) => h.status >= 200 && h.status < 300);
  const until = async (cond: () => boolean | Promise<boolean>, what: string, ms = 20_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    flaky = await receiver(secretA, (_id, n) => (n === 1 ? 503 : n === 2 ? 'reset' : 204));
    critical = await receiver(secretB, () => 200);
    gone = await receiver(secretB, () => 410);
    s = await startTestServer({
      publicUrl: 'https://depcanary.example.org',
      webhooks: [
        { name: 'ops', url: flaky.url, secret: secretA, minSeverity: 'info' },
        { name: 'pager', url: critical.url, secret: secretB, minSeverity: 'critical', libraries: ['oslo-log'] },
        { name: 'old', url: gone.url, secret: secretB, minSeverity: 'info', events: ['rollout.promoted'] },
      ],
    }, [notifyExtension({ pollMs: 50, backoff: { baseMs: 100, maxMs: 300 } })], createLogger('trace', sink));
  });
  afterAll(async () => {
    await s?.close();
    for (const r of [flaky, critical, gone]) r?.server.close();
  });

  test('exactly the events each filter takes, signed, retried after failures, once delivered each', async () => {
    const log = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', requiresPython: '' });
    expect(log.status).toBe(201);
    expect((await s.req('POST', `/v1/rollouts/${log.json.id}/promote`, { reason: 'quiet at 1%' })).status).toBe(200);
    expect((await s.req('POST', `/v1/rollouts/${log.json.id}/pause`, { reason: 'looking' })).status).toBe(200); // not notified
    expect((await s.req('POST', `/v1/rollouts/${log.json.id}/rollback`, { reason: 'nova unit tests break' })).status).toBe(200);
    const six = await s.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', stages: [50, 100], requiresPython: '' });
    expect((await s.req('POST', `/v1/rollouts/${six.json.id}/promote`, { reason: 'quiet at 50%' })).status).toBe(200);

    await until(() => delivered(flaky.hits).length === 5 && delivered(critical.hits).length === 1, 'the deliveries');
    await until(async () => (await s.req('GET', '/v1/webhooks/deliveries?status=pending')).json.deliveries.length === 0, 'no pending delivery');
    // Order of arrival is not guaranteed (retries interleave); the feed ids give the order of events.
    const byEvent = (a: Hit, b: Hit) => { const [x, y] = [a.id, b.id].map((i) => i.slice(4).split('-').map(Number)); return x![0]! - y![0]! || x![1]! - y![1]!; };
    const types = (hits: Hit[]) => delivered(hits).sort(byEvent).map((h) => `${h.body.type} ${h.body.data.rollout.library}`);
    expect(types(flaky.hits)).toEqual([
      'org.depcanary.rollout.created oslo.log', 'org.depcanary.rollout.advanced oslo.log', 'org.depcanary.rollout.rolled_back oslo.log',
      'org.depcanary.rollout.created six', 'org.depcanary.rollout.promoted six',
    ]);
    expect(types(critical.hits)).toEqual(['org.depcanary.rollout.rolled_back oslo.log']);
    // Every attempt is signed (verified by the reference library); three attempts per message, same id and body.
    expect(flaky.hits.every((h) => h.valid)).toBe(true);
    expect(critical.hits.every((h) => h.valid)).toBe(true);
    expect(flaky.hits).toHaveLength(15);
    for (const id of new Set(flaky.hits.map((h) => h.id))) {
      const tries = flaky.hits.filter((h) => h.id === id);
      expect(tries.map((h) => h.status)).toEqual([503, 0, 204]);
      expect(new Set(tries.map((h) => JSON.stringify(h.body))).size).toBe(1);
    }
    const rb = delivered(critical.hits)[0]!.body;
    expect(rb).toMatchObject({
      specversion: '1.0', source: 'https://depcanary.example.org', subject: log.json.id, datacontenttype: 'application/json', severity: 'critical',
      data: {
        rollout: { id: log.json.id, library: 'oslo.log', stable: '8.3.0', candidate: '8.4.0', branch: 'master', state: 'rolled_back', percent: 10, url: `https://depcanary.example.org/rollouts/${log.json.id}` },
        event: { type: 'rolled_back', reason: 'nova unit tests break', automatic: false, fromStage: 1, toStage: 1 },
      },
    });
    expect(rb.id).toMatch(/^evt_\d+-\d+$/);

    const list = (await s.req('GET', '/v1/webhooks/deliveries?webhook=ops')).json.deliveries;
    expect(list).toHaveLength(5);
    for (const d of list) expect(d).toMatchObject({ webhook: 'ops', status: 'delivered', attempts: 3, lastStatus: 204 });
    const old = (await s.req('GET', '/v1/webhooks/deliveries?webhook=old')).json.deliveries;
    expect(old).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, lastStatus: 410, type: 'rollout.promoted' })]);
    expect(old[0].lastError).toMatch(/HTTP 410: the endpoint is gone; not retried/);
    expect(gone.hits).toHaveLength(1);
    const metrics = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(metrics).toMatch(/depcanary_webhook_deliveries_total\{webhook="ops",outcome="delivered"\} 5/);
    expect(metrics).toMatch(/depcanary_webhook_deliveries_total\{webhook="ops",outcome="retry"\} 10/);
    expect(metrics).toMatch(/depcanary_webhook_deliveries_total\{webhook="old",outcome="failed"\} 1/);
    expect(metrics).toMatch(/depcanary_webhook_pending 0/);
    const hooks = (await s.req('GET', '/v1/webhooks')).json.webhooks;
    expect(hooks[0]).toEqual({ name: 'ops', url: `${new URL(flaky.url).origin}/hooks/depcanary?…`, events: null, libraries: null, minSeverity: 'info' });
  });

  test('a redelivery sends the same message again; pending ones and unknown ids are refused', async () => {
    const [d] = (await s.req('GET', '/v1/webhooks/deliveries?webhook=pager')).json.deliveries;
    const before = critical.hits.length;
    expect((await s.req('POST', `/v1/webhooks/deliveries/${d.id}/redeliver`, { reason: 'pager was down' })).status).toBe(202);
    await until(() => critical.hits.length === before + 1, 'the redelivery');
    expect(critical.hits.at(-1)).toMatchObject({ id: d.msgId, valid: true });
    expect(critical.hits.at(-1)!.body).toEqual(critical.hits[0]!.body);
    expect((await s.req('POST', '/v1/webhooks/deliveries/pager:1-1/redeliver', {})).status).toBe(404);
    expect((await s.req('POST', `/v1/webhooks/deliveries/${d.id}/redeliver`, { secret: 1 })).status).toBe(400);
  });

  test('no secret in any log line', () => {
    const all = logLines.join('');
    expect(all).toContain('webhook delivery failed; retrying');
    for (const secret of [secretA, secretB, secretA.slice(6), secretB.slice(6)]) expect(all).not.toContain(secret);
  });
});

describe('webhooks from the controller', () => {
  let s: TestServer;
  let hooks: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hooks = await receiver(secretA, () => 204);
    s = await startTestServer({
      controller: { enabled: true, tickMs: 200, debounceMs: 50, leaseMs: 5000 },
      webhooks: [{ name: 'ops', url: hooks.url, secret: secretA, minSeverity: 'warning' }],
    }, [controllerExtension(), notifyExtension({ pollMs: 50 })]);
  });
  afterAll(async () => {
    await s?.close();
    hooks?.server.close();
  });

  test('a stage held past its maximum age is a warning, sent once', async () => {
    const r = await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '5.10.0', requiresPython: '', policy: { maxStageAgeSeconds: 1 } });
    expect(r.status).toBe(201);
    const end = Date.now() + 20_000;
    while (hooks.hits.length === 0 && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    await new Promise((res) => setTimeout(res, 1000)); // more evaluations: still one message
    expect(hooks.hits).toHaveLength(1);
    const h = hooks.hits[0]!;
    expect(h.valid).toBe(true);
    expect(h.body).toMatchObject({
      type: 'org.depcanary.rollout.held_too_long', severity: 'warning', subject: r.json.id,
      data: { event: { type: 'decision', actor: 'depcanary-controller', automatic: true }, detail: { verdict: 'hold', rule: 'max_stage_age' } },
    });
    expect(h.body.data.event.reason).toMatch(/^Holding for 1 s in the 1% stage \(max 1 s\), a human should look: /);
  });
});
