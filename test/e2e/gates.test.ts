import { randomUUID } from 'node:crypto';
import { controllerExtension } from '../../server/controller/extension';
import { report, startTestServer, type TestServer } from '../support/server';

/**
 * Freeze windows and signoffs through the HTTP API with the real controller: a fleet of
 * machines asks for its pins and reports over HTTP, the rule would advance, and the gates
 * beside it hold the advance, saying why, until the window ends or enough distinct release
 * managers approved the stage. Rollbacks are never held (tested in the unit tests of gates).
 */
const FAST = { minControlRuns: 30, cap: 50, stage: { soakSeconds: 1, minMachines: 3, minRuns: 20, marginFloor: 0.3 } };

describe('gates beside the rule: freeze windows and signoffs', () => {
  let s: TestServer;
  const t0 = Date.now();
  const freezeEnd = t0 + 9_000;
  const machines = Array.from({ length: 160 }, () => randomUUID());
  let rm1: string;
  let rm2: string;
  let viewer: string;

  beforeAll(async () => {
    s = await startTestServer({
      controller: { enabled: true, tickMs: 200, debounceMs: 50, leaseMs: 5000 },
      freezeWindows: [
        { start: t0 - 3_600_000, end: freezeEnd, branches: ['stable/2025.2'], reason: 'stable/2025.2 point release in progress' },
        { start: t0 + 86_400_000, end: t0 + 2 * 86_400_000, reason: 'not yet' },
      ],
      signoffs: { 50: 2 },
    }, [controllerExtension()]);
    rm1 = (await s.req('POST', '/v1/tokens', { name: 'alice', role: 'release-manager' })).json.token;
    rm2 = (await s.req('POST', '/v1/tokens', { name: 'bob', role: 'release-manager' })).json.token;
    viewer = (await s.req('POST', '/v1/tokens', { name: 'carol', role: 'viewer' })).json.token;
  });
  afterAll(async () => {
    await s?.close();
  });

  /** One round: every machine gets its pins, installs them and reports a pass (a rare flake). */
  async function round(branch: string): Promise<void> {
    const reports: ReturnType<typeof report>[] = [];
    await Promise.all(machines.map(async (m, i) => {
      const pins = (await s.req('GET', `/v1/pins?machine=${m}&branch=${branch}`, undefined, null)).json.pins as { library: string; version: string }[];
      const installed: Record<string, string> = { six: '1.17.0', stevedore: branch === 'master' ? '5.9.1' : '5.5.0' };
      for (const p of pins) installed[p.library] = p.version;
      const outcome = i % 40 === 0 ? 'fail' : 'pass';
      reports.push(report({ machine: m, installed, outcome, branch, failedTests: outcome === 'fail' ? ['flaky.test_network'] : [] }));
    }));
    await s.postSpread(reports); // from several CI systems (reporter tokens): completion needs independent sources
    await new Promise((r) => setTimeout(r, 250));
  }

  async function until(id: string, branch: string, cond: (v: any) => boolean, what: string, ms = 60_000): Promise<any> {
    const end = Date.now() + ms;
    for (;;) {
      const v = (await s.req('GET', `/v1/rollouts/${id}`)).json;
      if (cond(v)) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${v.state} ${v.percent}% (${v.decision?.reason})`);
      await round(branch);
    }
  }

  test('inside a freeze window the rule\'s advance is held, saying why; it advances once the window ends', async () => {
    const r = (await s.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', branch: 'stable/2025.2', stages: [40, 100], policy: FAST, requiresPython: '' })).json;
    expect(r.freeze).toEqual({ until: freezeEnd, reason: 'stable/2025.2 point release in progress' });
    const held = await until(r.id, 'stable/2025.2', (v) => v.decision?.gate?.gate === 'freeze', 'the freeze hold');
    expect(held).toMatchObject({ state: 'active', percent: 40 });
    expect(held.decision.verdict).toBe('hold');
    expect(held.decision.reason).toMatch(new RegExp(`^Holding: freeze window until ${new Date(freezeEnd).toISOString().replace(/\./g, '\\.')}: stable/2025.2 point release in progress\\. The rule would advance: `));
    expect(Date.now()).toBeLessThan(freezeEnd);
    const done = await until(r.id, 'stable/2025.2', (v) => v.state === 'promoted', 'the advance after the window');
    const events = (await s.req('GET', `/v1/rollouts/${r.id}/events`)).json.events;
    // The hold is one turn in the audit trail however many evaluations it lasted: a decision
    // event is written only when the verdict, rule, stage or gate turns (the rule itself may
    // turn in between, e.g. to wait for sources, and back: that is a new turn).
    const decisions = events.filter((e: any) => e.type === 'decision').map((e: any) => {
      const d = e.evidence;
      return `${d.verdict} ${d.rule} ${d.stageIndex} ${d.gate?.gate ?? '-'}`;
    });
    expect(decisions.filter((d: string) => d.endsWith(' freeze')).length).toBeGreaterThanOrEqual(1);
    expect(decisions.filter((d: string, i: number) => i > 0 && d === decisions[i - 1])).toEqual([]);
    const promoted = events.find((e: any) => e.type === 'promoted');
    expect(promoted).toMatchObject({ actor: 'depcanary-controller', automatic: true });
    expect(promoted.at).toBeGreaterThanOrEqual(freezeEnd);
    expect(done.freeze).toBeNull();
    // A person may still act inside a window: the freeze is about automatic moves only.
  });

  test('a stage that needs two signoffs holds until two distinct release managers approved it', async () => {
    const r = (await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '6.0.0', stages: [50, 100], policy: FAST, requiresPython: '' })).json;
    expect(r.signoff).toEqual({ needed: 2, approvers: [] });
    const held = await until(r.id, 'master', (v) => v.decision?.gate?.gate === 'signoff', 'the signoff hold');
    expect(held.decision.reason).toMatch(/^Holding: stage 1 \(50%\) needs 2 approvals from distinct release managers before it advances; it has 0\. The rule would advance: /);

    expect((await s.req('POST', `/v1/rollouts/${r.id}/approve`, { reason: 'nova and neutron look fine' }, rm1)).status).toBe(200);
    const again = await s.req('POST', `/v1/rollouts/${r.id}/approve`, { reason: 'twice' }, rm1);
    expect(again.status).toBe(409);
    expect(again.json.error.message).toBe(`alice (release-manager) already approved stage 1 of rollout ${r.id}`);
    expect((await s.req('POST', `/v1/rollouts/${r.id}/approve`, { reason: 'me too' }, viewer)).status).toBe(403);
    expect((await s.req('POST', `/v1/rollouts/${r.id}/approve`, {}, rm2)).status).toBe(400);
    const promote = await s.req('POST', `/v1/rollouts/${r.id}/promote`, { reason: 'I am sure' }, rm2);
    expect(promote.status).toBe(409);
    expect(promote.json.error.message).toMatch(/needs 2 approvals .* it has 1 \(alice \(release-manager\)\); approve it first/);
    const one = await until(r.id, 'master', (v) => v.decision?.reason?.includes('it has 1 (alice (release-manager))'), 'the hold with one approval');
    expect(one).toMatchObject({ state: 'active', signoff: { needed: 2, approvers: ['alice (release-manager)'] } });

    expect((await s.req('POST', `/v1/rollouts/${r.id}/approve`, { reason: 'cinder too' }, rm2)).status).toBe(200);
    await until(r.id, 'master', (v) => v.state === 'promoted', 'the advance after two signoffs');
    const events = (await s.req('GET', `/v1/rollouts/${r.id}/events`)).json.events;
    expect(events.filter((e: any) => e.type === 'approved').map((e: any) => [e.actor, e.reason, e.fromStage]))
      .toEqual([['alice (release-manager)', 'nova and neutron look fine', 0], ['bob (release-manager)', 'cinder too', 0]]);
    expect(events.at(-1)).toMatchObject({ type: 'promoted', actor: 'depcanary-controller' });
  });
});
