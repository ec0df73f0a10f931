import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ADMIN_TOKEN, FIXTURES, report, startTestServer, type TestServer } from '../support/server';
import { runCli } from './run-cli';

/** The real CLI binary against a real server on the jest run's real Redis. */
describe('depcanary CLI', () => {
  let s: TestServer;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);

  beforeEach(async () => {
    s = await startTestServer();
    env = { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: ADMIN_TOKEN };
  });
  afterEach(async () => {
    await s.close();
  });

  /** Sends `runs` reports from machines of the given arm; returns how many machines. */
  async function feed(rolloutId: string, library: string, arm: 'candidate' | 'control', machines: number, fail: (i: number) => boolean) {
    let n = 0;
    for (let tries = 0; n < machines && tries < 500; tries++) {
      const m = randomUUID();
      const { json } = await s.req('GET', `/v1/pins?machine=${m}`, undefined, null);
      const pin = json.pins.find((p: { rolloutId: string }) => p.rolloutId === rolloutId);
      if (pin.arm !== arm) continue;
      const failed = fail(n);
      // several CI systems (reporter tokens): evidence from several sources (docs/trust.md)
      const r = await s.req('POST', '/v1/reports', report({
        machine: m, installed: { [library]: pin.version }, outcome: failed ? 'fail' : 'pass',
        failedTests: failed ? ['nova.tests.unit.test_log.LogTest.test_format'] : [],
      }), await s.reporter(`feed-${n % 6}`));
      expect(r.status).toBe(202);
      n++;
    }
    return n;
  }

  test('rollouts with none yet, then start with flags: stages, soak and min machines reach the server', async () => {
    const empty = await cli('rollouts');
    expect(empty).toMatchObject({ code: 0, stderr: '' });
    expect(empty.stdout).toMatch(/No rollouts yet/);

    const started = await cli('start', 'oslo.log', '8.4.0', '--stages', '1,10,100', '--soak', '24h', '--min-machines', '7', '--reason', 'new log format');
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const id = /Started (\S+):/.exec(started.stdout)![1]!;
    expect(started.stdout).toContain('oslo.log 8.3.0 → 8.4.0 on master, stages 1 → 10 → 100%');
    const { json } = await s.req('GET', `/v1/rollouts/${id}`);
    expect(json.policy.stages.map((p: { soakSeconds: number; minMachines: number }) => [p.soakSeconds, p.minMachines])).toEqual([[86400, 7], [86400, 7]]);

    const list = await cli('rollouts');
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+LIBRARY\s+BRANCH\s+S → C\s+STATE\s+STAGE\s+CAND runs\/mach\s+CAND fail \[95%\]\s+CTRL runs\/mach\s+CTRL fail \[95%\]\s+DECISION$/);
    expect(lines[1]).toMatch(new RegExp(`^${id}\\s+oslo\\.log\\s+master\\s+8\\.3\\.0 → 8\\.4\\.0\\s+active\\s+1% \\(1/3\\)\\s+0/0\\s+–\\s+0/0\\s+–\\s+none yet$`));
    expect(lines[2]).toBe('  ↳ no decision yet: the controller has not evaluated this rollout');
  });

  test('rollouts and show: runs, machines and failure rates per arm, failing tests, audit trail; --json for scripts', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] });
    expect(await feed(ro.id, 'oslo.log', 'candidate', 10, (i) => i < 3)).toBe(10);
    expect(await feed(ro.id, 'oslo.log', 'control', 20, (i) => i < 1)).toBe(20);

    const list = await cli('rollouts');
    expect(list.code).toBe(0);
    // 3 of 10 candidate runs failed: 30.0% with Wilson [10.8–60.3]; control 1 of 20: 5.0% [0.9–23.6].
    expect(list.stdout).toMatch(new RegExp(`${ro.id}\\s+oslo\\.log\\s+master\\s+8\\.3\\.0 → 8\\.4\\.0\\s+active\\s+50% \\(1/2\\)\\s+10/10\\s+30\\.0% \\[10\\.8–60\\.3\\]\\s+20/20\\s+5\\.0% \\[0\\.9–23\\.6\\]\\s+none yet`));

    const json = await cli('--json', 'rollouts');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.rollouts[0]).toMatchObject({ id: ro.id, evidence: { total: { candidate: { runs: 10, failures: 3, machines: 10 } } } });

    const show = await cli('show', ro.id);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`oslo.log 8.3.0 → 8.4.0 on master   active   stage 50% (1/2)   id ${ro.id}, revision 1`);
    expect(show.stdout).toContain('Lines   candidate machines get 8.4.0 on 1 line\n');
    expect(show.stdout).toContain('Python  candidate declares no Requires-Python (not read: index off); community Pythons 3.10, 3.11, 3.12, 3.13\n');
    expect(show.stdout).toMatch(/Stages\n  ●    50%  ██████████░░░░░░░░░░  entered .*\n  ○   100%  ████████████████████  not reached/);
    expect(show.stdout).toMatch(/fail rate \[95%\]\s+30\.0% \[10\.8–60\.3\]\s+5\.0% \[0\.9–23\.6\]/);
    expect(show.stdout).toMatch(/Top failing tests.*\n  candidate:\n\s+3  nova\.tests\.unit\.test_log\.LogTest\.test_format\n  control:\n\s+1  nova\.tests\.unit\.test_log\.LogTest\.test_format/);
    expect(show.stdout).toMatch(/Gerrit  no proposed change/);
    expect(show.stdout).toMatch(/Audit trail\n  \S+ \S+  created\s+bootstrap-admin \(admin\)  start oslo\.log 8\.3\.0 → 8\.4\.0/);

    const showJson = JSON.parse((await cli('show', ro.id, '--json')).stdout);
    expect(showJson.rollout.id).toBe(ro.id);
    expect(showJson.events.map((e: { type: string }) => e.type)).toEqual(['created']);
  });

  test('promote, pause, resume, rollback change the rollout; a refused action is a 409 with exit code 6', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    const promote = await cli('promote', ro.id, '--reason', 'looks good');
    expect(promote).toMatchObject({ code: 0, stderr: '' });
    expect(promote.stdout).toMatch(new RegExp(`^${ro.id}: active, stage 10% \\(2/3\\), revision 2\\n`));
    expect((await cli('pause', ro.id)).stdout).toMatch(/: paused, stage 10% \(2\/3\), revision 3/);
    expect((await cli('resume', ro.id)).stdout).toMatch(/: active, stage 10% \(2\/3\), revision 4/);

    const stale = await cli('pause', ro.id, '--revision', '2');
    expect(stale.code).toBe(6);
    expect(stale.stderr).toBe(`depcanary: conflict (409): rollout ${ro.id} is at revision 4, not 2; reload and retry\n`);

    const noReason = await cli('rollback', ro.id);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/required option '--reason <text>' not specified/);

    const rb = await cli('rollback', ro.id, '--reason', 'breaks nova');
    expect(rb.code).toBe(0);
    expect(rb.stdout).toMatch(/: rolled back, stage 0% \(was 10%\), revision 5\n  rolled back: breaks nova/);
    const again = await cli('promote', ro.id);
    expect(again.code).toBe(6);
    expect(again.stderr).toBe(`depcanary: conflict (409): rollout ${ro.id} is already rolled_back\n`);

    await s.server.runtime.rolloutStore.setProposal(ro.id, {
      kind: 'rollback', status: 'sent', changeNumber: 42, url: 'http://127.0.0.1:8081/c/openstack/requirements/+/42',
      subject: 'Roll back oslo.log to 8.3.0', attempts: 1, updatedAt: Date.now(),
    });
    const shown = await cli('show', ro.id);
    expect(shown.stdout).toContain('Gerrit  rollback sent  change 42  http://127.0.0.1:8081/c/openstack/requirements/+/42\n  Roll back oslo.log to 8.3.0\n');

    const events = (await s.req('GET', `/v1/rollouts/${ro.id}/events`)).json.events;
    expect(events.map((e: { type: string; reason: string }) => [e.type, e.reason])).toEqual([
      ['created', 'start oslo.log 8.3.0 → 8.4.0'], ['advanced', 'looks good'], ['pause', 'pause from the depcanary CLI'],
      ['resume', 'resume from the depcanary CLI'], ['rolled_back', 'breaks nova'],
    ]);
  });

  test('a wrong token is one clear line and exit code 4: 403 for a low role, 401 for an unknown token', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    const viewer = (await s.req('POST', '/v1/tokens', { name: 'ci-viewer', role: 'viewer' })).json.token as string;
    const denied = await runCli(['promote', ro.id], { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: viewer });
    expect(denied).toEqual({
      code: 4,
      stdout: '',
      stderr: 'depcanary: forbidden (403): this needs the release-manager role; token "ci-viewer" has viewer\n',
    });
    // --token wins over the environment.
    const unknown = await cli('rollouts', '--token', 'not-a-real-token');
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toBe('depcanary: not authorised (401): unknown or revoked token; pass a token with --token or DEPCANARY_TOKEN\n');
    const none = await runCli(['rollouts'], { DEPCANARY_URL: s.url });
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/^depcanary: not authorised \(401\): missing bearer token/);
    const json = await runCli(['--json', 'promote', ro.id], { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: viewer });
    expect(JSON.parse(json.stdout)).toEqual({ error: { status: 403, code: 'forbidden', message: 'this needs the release-manager role; token "ci-viewer" has viewer' } });
  });

  test('an unknown rollout id is a 404 with exit code 5; an unreachable server exit code 3; a bad flag exit code 2', async () => {
    for (const args of [['show', 'no-such-rollout-123'], ['promote', 'no-such-rollout-123'], ['watch', 'no-such-rollout-123']]) {
      const r = await cli(...args);
      expect(r.code).toBe(5);
      expect(r.stderr).toBe('depcanary: not found (404): rollout no-such-rollout-123 not found\n');
    }
    const json = await cli('show', 'no-such-rollout-123', '--json');
    expect(JSON.parse(json.stdout).error).toMatchObject({ status: 404, code: 'not_found' });

    const port = await closedPort();
    const down = await runCli(['rollouts', '--url', `http://127.0.0.1:${port}`], {});
    expect(down.code).toBe(3);
    expect(down.stderr).toBe(`depcanary: cannot reach http://127.0.0.1:${port}: ECONNREFUSED (is the server running? set --url or DEPCANARY_URL)\n`);

    const bad = await cli('start', 'oslo.log', '8.4.0', '--soak', 'tomorrow');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('depcanary: --soak: "tomorrow" is not a duration (examples: 30s, 90m, 24h, 2d, 1h30m)\n');
    const invalid = await cli('start', 'oslo.log', 'banana!');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toBe('depcanary: bad request (400): candidate: not a PEP 440 version\n');
    const unknownCmd = await cli('frobnicate');
    expect(unknownCmd.code).toBe(2);
    expect(unknownCmd.stderr).toMatch(/^depcanary: unknown command 'frobnicate'/);
  });

  test('import constraints replaces the base (admin); a missing file or a viewer token fails clearly', async () => {
    const file = join(tmpdir(), `uc-${randomUUID()}.txt`);
    writeFileSync(file, 'oslo.log===9.0.0\nrequests===2.32.3\n');
    const refused = await cli('import', 'constraints', file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^depcanary: bad request \(400\): the new constraints for master drop 573 of the 575 libraries the base pins \(e\.g\. .*\); refusing to replace the base with it unless forced\n$/);
    const ok = await cli('import', 'constraints', file, '--force');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^Imported ${file} into master: 2 lines, 2 pins, 573 libraries dropped \\(etag \\S+\\)\\n$`));
    expect((await s.req('GET', '/v1/constraints')).text).toBe('oslo.log===9.0.0\nrequests===2.32.3\n');
    const missing = await cli('import', 'constraints', '/nonexistent/uc.txt');
    expect(missing).toMatchObject({ code: 2, stderr: 'depcanary: cannot read /nonexistent/uc.txt: ENOENT\n' });
    const viewer = (await s.req('POST', '/v1/tokens', { name: 'v', role: 'viewer' })).json.token as string;
    const denied = await runCli(['import', 'constraints', join(FIXTURES, 'upper-constraints.txt')], { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: viewer });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toBe('depcanary: forbidden (403): this needs the admin role; token "v" has viewer\n');
  });

  test('watch draws progress bars for the stage and the evidence toward the next decision', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', {
      library: 'oslo.log', candidate: '8.4.0', stages: [50, 100], policy: { stage: { minMachines: 4, minRuns: 8 } },
    });
    await feed(ro.id, 'oslo.log', 'candidate', 2, () => false);
    const one = await cli('watch', ro.id, '--once');
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/stage  ██████████░░░░░░░░░░  50% \(1\/2\)  \[50%\] → 100%/);
    expect(one.stdout).toMatch(/machines  ██████████░░░░░░░░░░  2 of 4\n/);
    expect(one.stdout).toMatch(/runs      █████░░░░░░░░░░░░░░░  2 of 8\n/);
    expect(one.stdout).toMatch(/segment   ░░░░░░░░░░░░░░░░░░░░  not evaluated yet\n/);

    const all = await cli('watch', '--count', '2', '--interval', '200ms');
    expect(all.code).toBe(0);
    expect(all.stdout.match(/depcanary watch — /g)).toHaveLength(2);
    expect(all.stdout).toMatch(/oslo\.log 8\.3\.0 → 8\.4\.0 on master  active/);

    // Watching one rollout stops once it has ended.
    await s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'test' });
    const ended = await cli('watch', ro.id, '--interval', '1s');
    expect(ended.code).toBe(0);
    expect(ended.stdout).toMatch(/rolled back/);

    const lines = (await cli('watch', ro.id, '--json', '--once')).stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).rollout.state).toBe('rolled_back');
  });
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
