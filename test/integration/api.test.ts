import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keys } from '../../server/store/keys';
import { ADMIN_TOKEN, FIXTURES, report, startTestServer, type TestServer } from '../support/server';

const UC = readFileSync(join(FIXTURES, 'upper-constraints.txt'), 'utf8');

describe('HTTP API on a real Redis', () => {
  let s: TestServer;
  beforeEach(async () => {
    s = await startTestServer();
  });
  afterEach(async () => {
    await s.close();
  });

  test('serves the imported base byte for byte, with ETag and 304', async () => {
    const r = await s.req('GET', '/v1/constraints.txt', undefined, null);
    expect(r.status).toBe(200);
    expect(r.text).toBe(UC);
    const tag = r.headers.get('etag')!;
    expect(tag).toMatch(/^".+"$/);
    const again = await s.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null, { 'if-none-match': tag });
    expect(again.status).toBe(304);
    const bad = await s.req('GET', '/v1/constraints.txt?machine=not-a-uuid', undefined, null);
    expect(bad.status).toBe(200);
    expect(bad.text).toBe(UC);
  });

  test('10% rollout over 2,000 machines: ~200 get the candidate, each differs in exactly that line', async () => {
    const created = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [10, 100] });
    expect(created.status).toBe(201);
    expect(created.json.stable).toBe('8.3.0');
    const baseLines = UC.split('\n');
    let candidates = 0;
    for (let i = 0; i < 2000; i++) {
      const r = await s.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null);
      if (r.text === UC) continue;
      candidates++;
      const lines = r.text.split('\n');
      expect(lines.length).toBe(baseLines.length);
      const diff = lines.map((l, j) => [l, baseLines[j]] as const).filter(([a, b]) => a !== b);
      expect(diff).toEqual([['oslo.log===8.4.0', 'oslo.log===8.3.0']]);
      expect(r.headers.get('x-depcanary-overrides')).toBe('oslo.log=8.4.0');
    }
    expect(candidates).toBeGreaterThanOrEqual(150);
    expect(candidates).toBeLessThanOrEqual(250);
  });

  test('pins JSON names arm, rollout and stage; a malformed machine is a 400', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'Oslo_Log', candidate: '8.4.0' });
    expect(ro.library).toBe('oslo.log');
    const m = randomUUID();
    const r = await s.req('GET', `/v1/pins?machine=${m}`, undefined, null);
    expect(r.status).toBe(200);
    expect(r.json.pins).toHaveLength(1);
    expect(r.json.pins[0]).toMatchObject({ library: 'oslo.log', rolloutId: ro.id, stage: 0, percent: 1, stable: '8.3.0', candidate: '8.4.0' });
    expect(['candidate', 'control']).toContain(r.json.pins[0].arm);
    expect((await s.req('GET', '/v1/pins?machine=abc', undefined, null)).status).toBe(400);
    expect((await s.req('GET', '/v1/pins', undefined, null)).status).toBe(400);
  });

  test('rollout validation: PEP 440, C differs from S, stages, unknown library', async () => {
    const bad = async (body: unknown) => (await s.req('POST', '/v1/rollouts', body));
    let r = await bad({ library: 'oslo.log', candidate: 'banana!' });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe('candidate');
    r = await bad({ library: 'oslo.log', candidate: '8.3.0' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/same version/);
    r = await bad({ library: 'oslo.log', candidate: '8.4.0', stages: [10, 5, 100] });
    expect(r.status).toBe(400);
    r = await bad({ library: 'no-such-lib', candidate: '1.0' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/not pinned/);
    // The control must be served the stable, so the base has to pin the library.
    r = await bad({ library: 'no-such-lib', candidate: '1.0', stable: '0.9' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('no-such-lib is not pinned in the master constraints; a rollout needs the base to pin it');
    r = await bad({ library: 'oslo.log', candidate: '8.4.0', stable: '8.1.0' });
    expect(r.status).toBe(409);
    expect(r.json.error.message).toBe('stable 8.1.0 is not what master pins for oslo.log: the base has oslo.log===8.3.0; give the pinned version as stable');
  });

  test('auth: 401 without token, 403 with a lower role, tokens created by admin', async () => {
    expect((await s.req('GET', '/v1/rollouts', undefined, null)).status).toBe(401);
    expect((await s.req('GET', '/v1/rollouts', undefined, 'wrong-token')).status).toBe(401);
    const t = await s.req('POST', '/v1/tokens', { name: 'ci-viewer', role: 'viewer' });
    expect(t.status).toBe(201);
    const viewer = t.json.token as string;
    expect((await s.req('GET', '/v1/rollouts', undefined, viewer)).status).toBe(200);
    const denied = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' }, viewer);
    expect(denied.status).toBe(403);
    expect(denied.json.error.message).toMatch(/release-manager/);
  });

  test('state machine over HTTP: pause, resume, promote to 100% makes C the base pin', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    const act = (a: string, body: unknown = { reason: 'test' }) => s.req('POST', `/v1/rollouts/${ro.id}/${a}`, body);
    expect((await act('resume')).status).toBe(409);
    expect((await act('pause')).json.state).toBe('paused');
    expect((await act('pause')).status).toBe(409);
    expect((await act('resume')).json.state).toBe('active');
    expect((await act('promote', {})).status).toBe(400);
    const p1 = await act('promote');
    expect(p1.json).toMatchObject({ stageIndex: 1, percent: 10, state: 'active' });
    const stale = await act('pause', { reason: 'stale', revision: 1 });
    expect(stale.status).toBe(409);
    const p2 = await act('promote');
    expect(p2.json).toMatchObject({ state: 'promoted', percent: 100 });
    const served = await s.req('GET', `/v1/constraints.txt?machine=${randomUUID()}`, undefined, null);
    expect(served.text).toBe(UC.replace('oslo.log===8.3.0', 'oslo.log===8.4.0'));
    expect((await act('rollback')).status).toBe(409);
    const ev = await s.req('GET', `/v1/rollouts/${ro.id}/events`);
    expect(ev.json.events.map((e: { type: string }) => e.type)).toEqual(['created', 'pause', 'resume', 'advanced', 'promoted']);
    expect(ev.json.events[3]).toMatchObject({ actor: 'bootstrap-admin (admin)', reason: 'test', fromStage: 0, toStage: 1 });
    expect(ev.json.events[0].evidence).toMatchObject({ stable: '8.3.0', candidate: '8.4.0', updateType: 'minor' });
  });

  test('a new rollout for the same library supersedes the active one', async () => {
    const { json: a } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    const { json: b } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.5.0' });
    expect((await s.req('GET', `/v1/rollouts/${a.id}`)).json.state).toBe('superseded');
    expect((await s.req('GET', `/v1/rollouts/${b.id}`)).json.state).toBe('active');
    const ev = await s.req('GET', `/v1/rollouts/${a.id}/events`);
    expect(ev.json.events.at(-1)).toMatchObject({ type: 'superseded', reason: expect.stringContaining(b.id) });
    const active = await s.req('GET', '/v1/rollouts?state=active');
    expect(active.json.rollouts.map((r: { id: string }) => r.id)).toEqual([b.id]);
  });

  test('concurrent promote and rollback: exactly one wins, the other gets 409', async () => {
    for (let i = 0; i < 5; i++) {
      const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: `8.4.${i}` });
      const [a, b] = await Promise.all([
        s.req('POST', `/v1/rollouts/${ro.id}/promote`, { reason: 'manual', revision: ro.revision }),
        s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'auto', revision: ro.revision }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const events = (await s.req('GET', `/v1/rollouts/${ro.id}/events`)).json.events;
      expect(events).toHaveLength(2);
    }
  });

  test('reports: counted once per id, arms from bucket and installed version, errors name the field', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] });
    const machines = Array.from({ length: 40 }, () => randomUUID());
    const reports = [];
    for (const m of machines) {
      const pins = (await s.req('GET', `/v1/pins?machine=${m}`, undefined, null)).json.pins;
      const cand = pins[0].arm === 'candidate';
      reports.push(report({ machine: m, installed: { 'oslo.log': pins[0].version }, outcome: cand ? 'fail' : 'pass', failedTests: cand ? ['t.test_a'] : [] }));
    }
    reports.push(report({ machine: machines[0]!, installed: { 'oslo.log': '1.0.0' } }));
    const r = await s.postReports({ reports });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 41, duplicates: 0 });
    const replay = await s.postReports({ reports: reports.slice(0, 5) });
    expect(replay.json).toEqual({ accepted: 0, duplicates: 5 });
    const view = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json;
    const ev = view.evidence;
    expect(ev.stage.candidate.runs + ev.stage.control.runs).toBe(40);
    expect(ev.stage.candidate.failures).toBe(ev.stage.candidate.runs);
    expect(ev.stage.candidate.machines).toBe(ev.stage.candidate.runs);
    expect(ev.stage.control.failures).toBe(0);
    expect(ev.mismatched).toBe(1);
    expect(ev.failingTests.candidate).toEqual([{ id: 't.test_a', machines: ev.stage.candidate.machines }]);

    const bad = report({ machine: machines[1]!, installed: { 'oslo.log': '8.4.0' } });
    const badBatch = await s.postReports({ reports: [report({ machine: machines[2]!, installed: {} }), { ...bad, outcome: 'maybe' }] });
    expect(badBatch.status).toBe(400);
    expect(badBatch.json.error.field).toBe('reports.1.outcome');
    const extra = await s.postReports({ ...bad, hostname: 'box' });
    expect(extra.status).toBe(400);
    const after = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json.evidence;
    expect(after.counted).toBe(ev.counted);
    const big = await s.postReports('x'.repeat(300_000), undefined, { 'content-type': 'application/json' });
    expect(big.status).toBe(413);
    const list = await s.req('GET', `/v1/reports?machine=${machines[0]}`);
    expect(list.json.reports).toHaveLength(2);
    expect(list.json.reports[0].installed).toEqual({ 'oslo.log': '1.0.0' });
  });

  test('an install failure (error report without the library) is attributed to its arm', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] });
    const machines = Array.from({ length: 20 }, () => randomUUID());
    const arms = await Promise.all(machines.map(async (m) => (await s.req('GET', `/v1/pins?machine=${m}`, undefined, null)).json.pins[0].arm as string));
    const reports = machines.map((m, i) => report({
      machine: m,
      outcome: 'error',
      installed: { six: '1.17.0' },
      // Half of them say which overrides they pinned; the server falls back to the bucket.
      ...(i % 2 && arms[i] === 'candidate' ? { pinned: { 'oslo.log': '8.4.0' } } : {}),
    }));
    expect((await s.postReports({ reports })).status).toBe(202);
    const ev = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json.evidence;
    const cand = arms.filter((a) => a === 'candidate').length;
    expect(ev.stage.candidate).toMatchObject({ runs: cand, errors: cand });
    expect(ev.stage.control).toMatchObject({ runs: 20 - cand, errors: 20 - cand });
    expect(ev.mismatched).toBe(0);
    // A passing report without the library says nothing about this rollout.
    await s.postReports(report({ machine: machines[0]!, installed: { six: '1.17.0' } }));
    expect((await s.req('GET', `/v1/rollouts/${ro.id}`)).json.evidence.counted).toBe(20);
  });

  test('ids compare in lower case: an upper-case machine is bucketed and counted once', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] });
    const m = randomUUID();
    const pin = (await s.req('GET', `/v1/pins?machine=${m.toUpperCase()}`, undefined, null)).json.pins[0];
    expect(pin.arm).toBe((await s.req('GET', `/v1/pins?machine=${m}`, undefined, null)).json.pins[0].arm);
    const r = report({ machine: m.toUpperCase(), installed: { 'oslo.log': pin.version } });
    expect((await s.postReports(r)).json).toEqual({ accepted: 1, duplicates: 0 });
    expect((await s.postReports({ ...r, id: r.id.toUpperCase() })).json).toEqual({ accepted: 0, duplicates: 1 });
    const ev = (await s.req('GET', `/v1/rollouts/${ro.id}`)).json.evidence;
    expect(ev.stage[pin.arm].runs).toBe(1);
    expect(ev.mismatched).toBe(0);
    expect((await s.req('GET', `/v1/reports?machine=${m}`)).json.reports).toHaveLength(1);
  });

  test('q0 at creation from the fleet history: counted without a rollout, capped, once per id, last week only', async () => {
    const DAY = 86_400_000;
    const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const runs = (machine: string, finishedAt: string, n: number, outcome: string, bad: number) =>
      Array.from({ length: n }, (_, i) => report({ machine, finishedAt, installed: {}, outcome: i < bad ? outcome : 'pass' }));
    const batch = [
      ...runs(a, at(0), 12, 'fail', 6), // one machine-day of 12 runs weighs 5 runs / 2.5 failures
      ...runs(b, at(0), 3, 'error', 1), // an error counts as a failure: 3 / 1
      ...runs(b, at(1), 2, 'pass', 0), // 2 / 0
      ...runs(c, at(9), 5, 'fail', 5), // outside the window (today and the 7 days before)
    ];
    expect((await s.req('GET', '/v1/rollouts?state=active')).json.rollouts).toEqual([]);
    expect((await s.postReports({ reports: batch })).json).toEqual({ accepted: 22, duplicates: 0 });
    const replay = await s.postReports({ reports: batch.slice(0, 12) });
    expect(replay.json).toEqual({ accepted: 0, duplicates: 12 });
    const day = (daysAgo: number) => at(daysAgo).slice(0, 10);
    const fleet = await s.server.runtime.telemetry.fleetHistory([day(9), day(1), day(0)]);
    // a reporter token's runs count as "<source>/<machine>" (docs/trust.md)
    const ci = (m: string) => `ci:test-ci/${m}`;
    expect(fleet.machineDays).toEqual(expect.arrayContaining([
      { machine: ci(a), day: day(0), runs: 12, failures: 6, errors: 0, source: 'ci:test-ci' },
      { machine: ci(b), day: day(0), runs: 3, failures: 0, errors: 1, source: 'ci:test-ci' },
      { machine: ci(b), day: day(1), runs: 2, failures: 0, errors: 0, source: 'ci:test-ci' },
      { machine: ci(c), day: day(9), runs: 5, failures: 5, errors: 0, source: 'ci:test-ci' },
    ]));
    expect(fleet.machineDays).toHaveLength(4);
    const ttl = await s.server.runtime.redis.ttl(keys(s.config.keyPrefix).fleetMachineDays(day(0)));
    expect(ttl).toBeGreaterThan(9 * 86_400);
    expect(ttl).toBeLessThanOrEqual(10 * 86_400);

    // N = 5 + 3 + 2 = 10 capped runs, F = 2.5 + 1 + 0 = 3.5
    const created = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', policy: { minControlRuns: 10 } });
    expect(created.status).toBe(201);
    expect(created.json.q0).toBeCloseTo(0.35, 12);
    expect((await s.req('GET', `/v1/rollouts/${created.json.id}`)).json.q0).toBeCloseTo(0.35, 12);
    const [ev] = (await s.req('GET', `/v1/rollouts/${created.json.id}/events`)).json.events;
    expect(ev.type).toBe('created');
    expect(ev.evidence).toMatchObject({ q0CappedRuns: 10, q0Machines: 2, q0Source: 'fleet-history' });
    expect(ev.evidence.q0).toBeCloseTo(0.35, 12);

    // Below minControlRuns capped runs: no q0 at creation (frozen later from the control arm).
    const thin = await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '99.0.0', policy: { minControlRuns: 11 } });
    expect(thin.status).toBe(201);
    expect(thin.json.q0).toBeNull();
    const [thinEv] = (await s.req('GET', `/v1/rollouts/${thin.json.id}/events`)).json.events;
    expect(thinEv.evidence).toMatchObject({ q0: null, q0CappedRuns: 10, q0Machines: 2, q0Source: null });
  });

  test('admin can replace the base; bad files are refused and the old base is kept', async () => {
    const bad = await s.req('PUT', '/v1/constraints', 'six===1.16.0\nnot a pin line\n', ADMIN_TOKEN, { 'content-type': 'text/plain' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/line 2/);
    expect((await s.req('GET', '/v1/constraints.txt', undefined, null)).text).toBe(UC);
    // A file that drops most pins is refused unless forced.
    const most = await s.req('PUT', '/v1/constraints', 'six===1.16.0\n', ADMIN_TOKEN, { 'content-type': 'text/plain' });
    expect(most.status).toBe(400);
    expect(most.json.error.message).toBe('the new constraints for master drop 574 of the 575 libraries the base pins (e.g. voluptuous, chardet, enum-compat, netmiko, sshtunnel); refusing to replace the base with it unless forced');
    expect((await s.req('GET', '/v1/constraints.txt', undefined, null)).text).toBe(UC);
    const ok = await s.req('PUT', '/v1/constraints?force=true', 'six===1.16.0\n', ADMIN_TOKEN, { 'content-type': 'text/plain' });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ branch: 'master', pins: 1, dropped: 574 });
    expect((await s.req('GET', '/v1/constraints.txt', undefined, null)).text).toBe('six===1.16.0\n');
  });

  test('operations: healthz, readyz and metrics', async () => {
    expect((await s.req('GET', '/healthz', undefined, null)).status).toBe(200);
    expect((await s.req('GET', '/readyz', undefined, null)).json.redis).toBe('ok');
    await s.req('GET', '/v1/constraints.txt', undefined, null);
    await s.postReports({ nope: 1 });
    const m = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(m).toMatch(/depcanary_pins_served_total\{endpoint="constraints",overridden="no"\} 1/);
    expect(m).toMatch(/depcanary_reports_rejected_total\{reason="invalid"\} 1/);
    expect(m).toMatch(/depcanary_http_request_duration_seconds_count\{method="GET",route="\/v1\/constraints.txt",status="200"\}/);
    expect(m).not.toContain(ADMIN_TOKEN);
  });

  test('metrics: parts folded (counted, unreadable), fold time, and the backlog of logged parts', async () => {
    const { json: ro } = await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' });
    const reports = Array.from({ length: 7 }, () => report({ machine: randomUUID(), installed: { 'oslo.log': '8.3.0' } }));
    expect((await s.postReports({ reports })).status).toBe(202);
    const gauge = (m: string, name: string) => Number(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(m)?.[2] ?? NaN);
    let m = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(m).toMatch(/^depcanary_fold_parts_total\{result="counted"\} 7$/m);
    expect(m).not.toMatch(/depcanary_fold_parts_total\{result="unreadable"\}/);
    expect(m).toMatch(/^depcanary_fold_duration_seconds_count\{result="folded"\} [1-7]$/m);
    expect(gauge(m, 'depcanary_fold_backlog')).toBe(0);
    // two entries logged that nobody has folded yet: the backlog; one is no part (passed over, counted)
    const redis = s.server.runtime.redis;
    const log = keys(s.config.keyPrefix).rolloutLog(ro.id);
    await redis.rpush(log, 'not a part', JSON.stringify({ id: 'x' }));
    m = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(gauge(m, 'depcanary_fold_backlog')).toBe(2);
    expect((await s.req('GET', `/v1/rollouts/${ro.id}`)).status).toBe(200); // a read folds first
    m = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(m).toMatch(/^depcanary_fold_parts_total\{result="unreadable"\} 2$/m);
    expect(m).toMatch(/^depcanary_fold_parts_total\{result="counted"\} 7$/m);
    expect(gauge(m, 'depcanary_fold_backlog')).toBe(0);
  });
});
