import { randomUUID } from 'node:crypto';
import { controllerExtension } from '../../server/controller/extension';
import { runCli } from '../cli/run-cli';
import { ADMIN_TOKEN, report, startTestServer, type TestServer, waitFor } from '../support/server';

/**
 * Decision v2 end to end: real server, real Redis, the controller, reports over HTTP. One
 * consumer project breaks on the candidate: its two test ids fail on every candidate
 * machine and pass on the control; the rest of the fleet is healthy. The rollout is rolled
 * back by the segment test, which names the project and its tests in the decision, the API,
 * the audit trail and the CLI.
 */
const BROKEN = ['blazar.tests.unit.test_leases.LeaseTest.test_create', 'blazar.tests.unit.test_hosts.HostTest.test_list'];

describe('segments end to end: a one-project break is rolled back and named', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ controller: { enabled: true, tickMs: 200, debounceMs: 50, leaseMs: 5000 } }, [controllerExtension()]);
  });
  afterAll(async () => {
    await s.close();
  });

  async function armOf(rolloutId: string, machine: string): Promise<string> {
    const pins = (await s.req('GET', `/v1/pins?machine=${machine}`, undefined, null)).json.pins as { rolloutId: string; arm: string }[];
    return pins.find((p) => p.rolloutId === rolloutId)!.arm;
  }

  async function post(reports: ReturnType<typeof report>[]) {
    await s.postSpread(reports);
  }

  test('blazar: 2 tests fail on 6 of 6 candidate machines, 0 of 60 control machines', async () => {
    // a long soak: the rollout holds at 1% while the evidence comes in
    const ro = (await s.req('POST', '/v1/rollouts', {
      library: 'oslo.log', candidate: '8.4.0', stages: [1, 10, 100], policy: { minControlRuns: 20, stage: { soakSeconds: 86_400 } },
    })).json;
    // machines by arm, as the bucketing places them (the salt is the server's)
    const candidates: string[] = [];
    const controls: string[] = [];
    while (candidates.length < 6 || controls.length < 80) {
      const m = randomUUID();
      if ((await armOf(ro.id, m)) === 'candidate') {
        if (candidates.length < 6) candidates.push(m);
      } else if (controls.length < 80) controls.push(m);
    }
    const on = (arm: 'candidate' | 'control') => ({ 'oslo.log': arm === 'candidate' ? '8.4.0' : '8.3.0' });

    // the control first: blazar passes on 60 machines, nova on 20 (one of them flaky)
    await post([
      ...controls.slice(0, 60).map((m) => report({ machine: m, installed: on('control'), project: 'blazar' })),
      ...controls.slice(60).map((m, i) => report({ machine: m, installed: on('control'), project: 'nova', ...(i === 0 ? { outcome: 'fail', failedTests: ['nova.tests.unit.test_flaky'] } : {}) })),
    ]);
    await waitFor('the control evaluated', async () => (await s.req('GET', `/v1/rollouts/${ro.id}`)).json, (v) => v.decision?.control.G === 80);

    // then the candidate: blazar's two tests fail on each of 6 machines; nova passes on them
    // twice. They come through several CI systems (sources); frozen meanwhile, so that the
    // rollback, applied once it thaws, has all six.
    expect((await s.req('POST', `/v1/rollouts/${ro.id}/freeze`, { reason: 'the candidate reports arrive first' })).status).toBe(200);
    await post(candidates.flatMap((m) => [
      report({ machine: m, installed: on('candidate'), project: 'blazar', outcome: 'fail', failedTests: BROKEN }),
      report({ machine: m, installed: on('candidate'), project: 'nova' }),
      report({ machine: m, installed: on('candidate'), project: 'nova' }),
    ]));
    await waitFor('the candidate evaluated', async () => (await s.req('GET', `/v1/rollouts/${ro.id}`)).json, (v) => v.decision?.candidate.G === 6);
    expect((await s.req('POST', `/v1/rollouts/${ro.id}/unfreeze`, { reason: 'all in' })).status).toBe(200);
    const v = await waitFor('the rollback', async () => (await s.req('GET', `/v1/rollouts/${ro.id}`)).json, (x) => x.state === 'rolled_back');

    // the decision: the segment rule, the project and its tests
    expect(v.decision).toMatchObject({ verdict: 'rollback', rule: 'segment' });
    expect(v.decision.segments.fired).toMatchObject({
      family: 'signature', segment: 'blazar', candidateEvents: 6, controlEvents: 0, candidateMachines: 6, controlMachines: 60, fired: true,
    });
    expect(v.decision.segments.fired.candidateSources).toBeGreaterThanOrEqual(3);
    expect([...v.decision.segments.firedTests].sort()).toEqual([...BROKEN].sort());
    expect(v.decision.reason).toMatch(/^Segment regression: blazar: 2 tests fail on 6 of 6 candidate machines, 0 of 60 control machines \(e = .*, needs 1\.3e\+6\)/);
    expect(v.endReason).toBe(v.decision.reason);
    // not a hard break (the candidate machines pass their nova runs)
    expect(v.decision.candidate.allFailingMachines).toBe(0);
    // the figures every client renders
    expect(v.figures.segments.fired).toMatchObject({ family: 'signature', label: expect.stringMatching(/^blazar: /), sentence: 'blazar: 2 tests fail on 6 of 6 candidate machines, 0 of 60 control machines' });

    // per-segment evidence
    const seg = (await s.req('GET', `/v1/rollouts/${ro.id}/segments?limit=5`)).json;
    const blazar = seg.projects.find((p: { name: string }) => p.name === 'blazar');
    expect(blazar.candidate).toMatchObject({ machines: 6, runs: 6, failed: 6, firstFailed: 6 });
    expect(blazar.control).toMatchObject({ machines: 60, runs: 60, failed: 0 });
    expect(seg.pythons.map((p: { name: string }) => p.name)).toEqual(['3.11']);
    expect(seg.signatures.slice(0, 2).map((x: { project: string; candidateMachines: number; controlMachines: number }) => [x.project, x.candidateMachines, x.controlMachines]))
      .toEqual([['blazar', 6, 0], ['blazar', 6, 0]]);
    expect(seg.signatures[0].log10E).toBeGreaterThan(seg.signatures[0].log10Threshold);
    expect(seg.signatureCount).toBe(3);
    expect(seg.alpha).toEqual({ run: expect.closeTo(0.0075, 12), project: 0.0005, python: 0.0005, signature: 0.0015 });

    // the audit trail carries the evidence
    const events = (await s.req('GET', `/v1/rollouts/${ro.id}/events`)).json.events;
    expect(events.at(-1)).toMatchObject({ type: 'rolled_back', automatic: true, evidence: { rule: 'segment', segments: { fired: { segment: 'blazar' } } } });

    // and the CLI says it
    const show = await runCli(['show', ro.id], { DEPCANARY_URL: s.url, DEPCANARY_TOKEN: ADMIN_TOKEN });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/rolled back: Segment regression: blazar: 2 tests fail on 6 of 6 candidate machines, 0 of 60 control/);
    expect(show.stdout).toMatch(/\n  segment blazar: 2 tests fail on 6 of 6 candidate machines, 0 of 60 control machines \(e = /);
    expect(show.stdout).toContain('  ✗ blazar: blazar.tests.unit.test_hosts.HostTest.test_list fails on 6 of 6 candidate machines, 0 of 60 control machines  e = ');
  }, 60_000);
});
