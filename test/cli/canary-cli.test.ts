import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notifyExtension } from '../../server/notify/extension';
import type { RolloutSource } from '../../server/domain/rollout';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../support/server';
import { runCli } from './run-cli';

/**
 * The CLI of bump-change canaries, signoffs, freeze windows and webhooks: the real binary
 * against a real server (real Redis, real HTTP receivers for the webhooks). The Gerrit side
 * (`depcanary changes` on real watch records) is in test/gerrit/bump-changes.test.ts.
 */
const source = (change: number, patchSet: number, bundle: number): RolloutSource => ({
  kind: 'gerrit', project: 'openstack/requirements', branch: 'master', change, patchSet,
  revision: 'a'.repeat(40), parent: 'b'.repeat(40), url: `https://review.opendev.org/c/openstack/requirements/+/${change}`,
  subject: 'Updated from generate-constraints', topic: 'openstack/requirements/constraints', changeId: `I${'c'.repeat(40)}`, bundle,
});

describe('CLI: signoffs, freeze windows and the source change', () => {
  let s: TestServer;
  let env: Record<string, string>;
  let alice: string;
  let bob: string;
  const freezeEnd = Date.now() + 3_600_000;
  const cli = (...args: string[]) => runCli(args, env);
  const as = (token: string, ...args: string[]) => runCli(args, { ...env, DEPCANARY_TOKEN: token });

  beforeAll(async () => {
    s = await startTestServer({
      signoffs: { 1: 2 },
      freezeWindows: [{ start: Date.now() - 60_000, end: freezeEnd, branches: ['master'], reason: 'Requirements freeze (2026.1 hibiscus)' }],
    });
    env = { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: ADMIN_TOKEN };
    alice = (await s.req('POST', '/v1/tokens', { name: 'alice', role: 'release-manager' })).json.token;
    bob = (await s.req('POST', '/v1/tokens', { name: 'bob', role: 'release-manager' })).json.token;
  });
  afterAll(async () => {
    await s?.close();
  });

  test('approve: two distinct release managers sign off the stage, shown in show with who, when and why; promote needs them', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    let show = await cli('show', ro.id);
    expect(show.stdout).toContain(`Signoff stage 1 (1%) needs 2 approvals before it advances: 0 so far; depcanary approve ${ro.id} --reason ...\n`);
    expect(show.stdout).toMatch(/Freeze {2}no automatic advance until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: Requirements freeze \(2026\.1 hibiscus\)\n/);

    const early = await cli('promote', ro.id, '--reason', 'looks fine');
    expect(early.code).toBe(6);
    expect(early.stderr).toBe(`depcanary: conflict (409): stage 1 (1%) needs 2 approvals from distinct release managers before it advances; it has 0; approve it first (POST /v1/rollouts/${ro.id}/approve)\n`);

    const a1 = await as(alice, 'approve', ro.id, '--reason', 'nova and neutron runs look clean');
    expect(a1).toMatchObject({ code: 0, stderr: '' });
    expect(a1.stdout).toMatch(new RegExp(`^${ro.id}: stage 1% \\(1/3\\) approved; 1 of 2 approvals: alice \\(release-manager\\), revision 2\\n`));
    const twice = await as(alice, 'approve', ro.id, '--reason', 'again');
    expect(twice.code).toBe(6);
    expect(twice.stderr).toBe(`depcanary: conflict (409): alice (release-manager) already approved stage 1 of rollout ${ro.id}\n`);
    const noReason = await as(bob, 'approve', ro.id);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/required option '--reason <text>' not specified/);
    const stale = await as(bob, 'approve', ro.id, '--reason', 'ok', '--revision', '1');
    expect(stale.code).toBe(6);
    const a2 = await as(bob, '--json', 'approve', ro.id, '--reason', 'checked the stevedore users');
    expect(JSON.parse(a2.stdout)).toMatchObject({ id: ro.id, signoff: { needed: 2, approvers: ['alice (release-manager)', 'bob (release-manager)'] }, approvals: [{ actor: 'alice (release-manager)', stageIndex: 0 }, { actor: 'bob (release-manager)', stageIndex: 0 }] });

    show = await cli('show', ro.id);
    expect(show.stdout).toContain('Signoff stage 1 (1%) needs 2 approvals before it advances: 2 so far (alice (release-manager), bob (release-manager))\n');
    expect(show.stdout).toMatch(/ {2}✓ stage 1 \(1%\) approved by alice \(release-manager\) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}nova and neutron runs look clean\n/);
    expect(show.stdout).toMatch(/ {2}✓ stage 1 \(1%\) approved by bob \(release-manager\) .* {2}checked the stevedore users\n/);
    expect(show.stdout).toMatch(/approved\s+alice \(release-manager\)\s+nova and neutron runs look clean/);

    expect((await cli('promote', ro.id, '--reason', 'two signoffs')).code).toBe(0);
    show = await cli('show', ro.id);
    // Stage 2 has no signoff policy: no Signoff line; the earlier approvals stay listed.
    expect(show.stdout).not.toContain('Signoff ');
    expect(show.stdout).toContain('✓ stage 1 (1%) approved by alice');
    expect((await cli('promote', ro.id)).code).toBe(0);
    const last = await as(alice, 'approve', ro.id, '--reason', 'done');
    expect(last.code).toBe(6);
    expect(last.stderr).toBe(`depcanary: conflict (409): rollout ${ro.id} is already promoted\n`);
  });

  test('a bump change\'s canary: its change in rollouts and show; rollouts --change filters', async () => {
    const rt = s.server.runtime;
    const tz = await rt.rollouts.create({ library: 'tzdata', candidate: '2026.4', source: source(4711, 2, 3), reason: 'canary of change 4711 patch set 2: tzdata 2026.1 → 2026.4' }, 'depcanary-change-watch');
    const other = await rt.rollouts.create({ library: 'six', candidate: '1.18.0' }, 'alice');
    const list = await cli('rollouts');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`\n  ↳ change 4711/2: no decision yet: the controller has not evaluated this rollout\n`);
    const only = await cli('rollouts', '--change', '4711');
    expect(only.stdout).toContain(tz.id);
    expect(only.stdout).not.toContain(other.id);
    expect((await cli('--json', 'rollouts', '--change', '4711')).stdout).toContain('"change": 4711');
    const bad = await cli('rollouts', '--change', 'I1234abc');
    expect(bad).toMatchObject({ code: 2, stderr: 'depcanary: bad request (400): change: a change number\n' });

    const show = await cli('show', tz.id);
    expect(show.stdout).toContain('Change  4711 patch set 2 on master (topic openstack/requirements/constraints, one of the 3 libraries it moves)  https://review.opendev.org/c/openstack/requirements/+/4711\n        Updated from generate-constraints\n');
    expect(show.stdout).toContain('Gerrit  no change of its own: its verdict is the vote on change 4711\n');
    expect((await cli('show', other.id)).stdout).not.toContain('Change  ');
  });
});

describe('CLI: webhook deliveries and redelivery', () => {
  let s: TestServer;
  let env: Record<string, string>;
  let receiver: Server;
  let url: string;
  let answer = 500;
  const hits: string[] = [];
  const cli = (...args: string[]) => runCli(args, env);
  const until = async (cond: () => Promise<boolean>, what: string) => {
    const end = Date.now() + 20_000;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      hits.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => res.writeHead(answer).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=not-shown`;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    s = await startTestServer({
      webhooks: [
        { name: 'ops', url, secret, minSeverity: 'info' },
        { name: 'pager', url, secret, minSeverity: 'critical', events: ['rollout.*'], libraries: ['oslo.log'] },
      ],
    }, [notifyExtension({ pollMs: 50, backoff: { baseMs: 50, maxMs: 100 }, maxAttempts: 2 })]);
    env = { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: ADMIN_TOKEN };
  });
  afterAll(async () => {
    await s?.close();
    receiver?.close();
  });

  test('webhooks lists the endpoints and every delivery; --status filters; redeliver sends a failed one again', async () => {
    const empty = await cli('webhooks');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^WEBHOOK\s+URL\s+EVENTS\s+LIBRARIES\s+MIN SEVERITY\nops\s+http:\/\/127\.0\.0\.1:\d+\/hook\?…\s+all\s+all\s+info\npager\s+\S+\s+rollout\.\*\s+oslo\.log\s+critical\n\nNo deliveries yet\n$/);
    expect(empty.stdout).not.toContain('not-shown');

    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    await until(async () => (await s.req('GET', '/v1/webhooks/deliveries?status=failed')).json.deliveries.length === 1, 'the failed delivery');
    expect(hits).toHaveLength(2);
    const list = await cli('webhooks');
    expect(list.stdout).toMatch(/DELIVERY\s+EVENT\s+LIBRARY\s+STATUS\s+TRIES\s+HTTP\s+WHEN\s+LAST ERROR\n(ops:\d+-\d+)\s+rollout\.created\s+oslo\.log\s+failed\s+2\s+500\s+(just now|\d+s ago)\s+HTTP 500; gave up after 2 attempts\n$/);
    const id = /\n(ops:\d+-\d+) /.exec(list.stdout)![1]!;
    expect((await cli('webhooks', '--status', 'delivered')).stdout).toMatch(/No deliveries yet/);
    expect((await cli('webhooks', 'list', '--webhook', 'ops', '--status', 'failed')).stdout).toContain(id);
    const bad = await cli('webhooks', '--status', 'lost');
    expect(bad).toMatchObject({ code: 2, stderr: 'depcanary: --status "lost": give pending, delivered or failed\n' });

    const viewer = (await s.req('POST', '/v1/tokens', { name: 'v', role: 'viewer' })).json.token as string;
    const denied = await runCli(['webhooks', 'redeliver', id], { ...env, DEPCANARY_TOKEN: viewer });
    expect(denied).toMatchObject({ code: 4, stderr: 'depcanary: forbidden (403): this needs the admin role; token "v" has viewer\n' });
    expect((await runCli(['webhooks'], { ...env, DEPCANARY_TOKEN: viewer })).code).toBe(0);

    answer = 204;
    const again = await cli('webhooks', 'redeliver', id);
    expect(again).toMatchObject({ code: 0, stdout: `${id}: pending; the notifier sends it again within a second\n` });
    await until(async () => (await s.req('GET', `/v1/webhooks/deliveries/${id}`)).json.status === 'delivered', 'the redelivery');
    expect(hits).toHaveLength(3);
    expect(new Set(hits).size).toBe(1); // the same webhook-id every time
    const json = JSON.parse((await cli('--json', 'webhooks')).stdout);
    expect(json.deliveries).toEqual([expect.objectContaining({ id, status: 'delivered', attempts: 3, lastStatus: 204, rolloutId: ro.id })]);
    expect(json.webhooks.map((w: { name: string }) => w.name)).toEqual(['ops', 'pager']);

    const unknown = await cli('webhooks', 'redeliver', 'ops:1-1');
    expect(unknown).toMatchObject({ code: 5, stderr: 'depcanary: not found (404): no delivery ops:1-1\n' });
    const malformed = await cli('webhooks', 'redeliver', 'not a delivery');
    expect(malformed.code).toBe(2);
  });

  test('without webhooks configured the list says how to configure one', async () => {
    const bare = await startTestServer({}, [notifyExtension()]);
    try {
      const r = await runCli(['webhooks'], { DEPCANARY_URL: bare.url, DEPCANARY_TOKEN: ADMIN_TOKEN });
      expect(r).toMatchObject({ code: 0, stdout: 'No webhooks configured (DEPCANARY_WEBHOOKS or DEPCANARY_WEBHOOKS_FILE)\n' });
    } finally {
      await bare.close();
    }
  });
});
