import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controllerExtension } from '../../server/controller/extension';
import { FIXTURES, report, startTestServer, waitFor, type TestServer } from '../support/server';

const UC = readFileSync(join(FIXTURES, 'upper-constraints.txt'), 'utf8');

/**
 * Second-scale policy: the rule is the real one, only the thresholds are small. No source cap:
 * with it, the 6 reporter tokens' control runs stop at 300 a day (one run each from the first
 * 300 machines) while the 1% candidate's ~15 machines keep reporting, so over many rounds a
 * candidate machine has many more chances to hit the 3% flaky failure than a control one, and
 * the per-machine segment test holds the healthy candidate (seen under a loaded machine, where
 * each stage takes more rounds).
 */
const FAST = { minControlRuns: 50, cap: 50, sourceCap: 0, stage: { soakSeconds: 2, minMachines: 3, minRuns: 20, marginFloor: 0.2 } };

/** Deterministic PRNG so a run's fleet is reproducible. */
function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('controller end to end: real server, real Redis, reports over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ controller: { enabled: true, tickMs: 200, debounceMs: 50, leaseMs: 5000 } }, [controllerExtension()]);
  });
  afterAll(async () => {
    await s.close();
  });

  test('a healthy candidate goes 1 → 10 → 100 and a broken one is rolled back with its evidence', async () => {
    const healthy = (await s.req('POST', '/v1/rollouts', { library: 'oslo.config', candidate: '10.8.0', policy: FAST })).json;
    const broken = (await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '6.0.0', policy: FAST })).json;
    expect(healthy.percent).toBe(1);
    const rand = mulberry32(42);
    // 1,500 machines: ~15 in each 1% arm (P(fewer than 3) < 1e-4).
    const machines = Array.from({ length: 1500 }, () => randomUUID());
    const deadline = Date.now() + 90_000;
    let rounds = 0;
    for (;;) {
      const h = (await s.req('GET', `/v1/rollouts/${healthy.id}`)).json;
      const b = (await s.req('GET', `/v1/rollouts/${broken.id}`)).json;
      if (h.state === 'promoted' && b.state === 'rolled_back') break;
      if (Date.now() > deadline) throw new Error(`timed out: healthy ${h.state}@${h.percent}% (${h.decision?.reason}); broken ${b.state} (${b.decision?.reason})`);
      rounds++;
      const reports: ReturnType<typeof report>[] = [];
      for (let i = 0; i < machines.length; i += 25) {
        // Each machine asks for its pins, installs them, runs its tests and reports.
        const batch = machines.slice(i, i + 25);
        const allPins = await Promise.all(batch.map(async (m) => (await s.req('GET', `/v1/pins?machine=${m}`, undefined, null)).json.pins as { library: string; version: string; rolloutId: string; arm: string }[]));
        batch.forEach((m, j) => {
          const pins = allPins[j]!;
          const installed: Record<string, string> = { 'oslo.config': '10.7.0', stevedore: '5.9.1' };
          for (const p of pins) installed[p.library] = p.version;
          const brokenInstall = pins.some((p) => p.rolloutId === broken.id && p.arm === 'candidate');
          const outcome = brokenInstall ? 'error' : rand() < 0.03 ? 'fail' : 'pass';
          reports.push(report({ machine: m, installed, outcome, failedTests: outcome === 'fail' ? ['flaky.test_network'] : [] }));
        });
      }
      await s.postSpread(reports);
      await new Promise((r) => setTimeout(r, 300));
    }

    const h = (await s.req('GET', `/v1/rollouts/${healthy.id}`)).json;
    expect(h.history.map((x: { percent: number }) => x.percent)).toEqual([1, 10, 100]);
    const b = (await s.req('GET', `/v1/rollouts/${broken.id}`)).json;
    expect(b.decision).toMatchObject({ verdict: 'rollback', rule: 'hard_break' });
    expect(b.decision.candidate.machines).toBeGreaterThanOrEqual(3);
    expect(b.endReason).toMatch(/machines/);
    const bEvents = (await s.req('GET', `/v1/rollouts/${broken.id}/events`)).json.events;
    expect(bEvents.at(-1)).toMatchObject({ type: 'rolled_back', actor: 'depcanary-controller', automatic: true });
    expect(bEvents.at(-1).evidence.candidate.N).toBeGreaterThan(0);
    const hEvents = (await s.req('GET', `/v1/rollouts/${healthy.id}/events`)).json.events;
    expect(hEvents.filter((e: { type: string }) => e.type === 'advanced' || e.type === 'promoted').map((e: { actor: string }) => e.actor))
      .toEqual(['depcanary-controller', 'depcanary-controller']);
    expect((await s.req('GET', `/v1/rollouts/${healthy.id}/series`)).json.points.length).toBeGreaterThan(2);

    // Pins afterwards: everyone on the promoted oslo.config, nobody on the broken stevedore.
    for (const m of machines.slice(0, 50)) {
      const text = (await s.req('GET', `/v1/constraints.txt?machine=${m}`, undefined, null)).text;
      expect(text).toBe(UC.replace('oslo.config===10.7.0', 'oslo.config===10.8.0'));
    }
    const metrics = (await s.req('GET', '/metrics', undefined, null)).text;
    expect(metrics).toMatch(/depcanary_decisions_total\{verdict="rollback",applied="yes"\} 1/);
    expect(metrics).toMatch(/depcanary_decisions_total\{verdict="advance",applied="yes"\} 2/);
    expect(rounds).toBeGreaterThan(1);
  }, 120_000);

  test('a manual pause stops automatic advance; a frozen rollout is not rolled back automatically', async () => {
    // pbr's candidate machines error in both arms of six, so six's arms fail ~20% of runs; its q0
    // comes from the fleet history the first test left (a few percent), so the margin is set
    // very wide here (90 pts): this test is about pause and freeze, not about how close the
    // bound gets. With 50 pts a fresh-clone run held by chance: the source-clustered interval
    // from ~60 candidate machines was ±62 pts.
    // No source cap: 600 reports from 6 reporter tokens put ~80 control runs per source and day, past
    // the default 50, which skews the arms' ratio into a sample-ratio alarm (a hold, not this test's subject).
    const open = { ...FAST, sourceCap: 0, stage: { ...FAST.stage, soakSeconds: 0, marginFloor: 0.9 } };
    const paused = (await s.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', stages: [20, 100], policy: open })).json;
    const frozen = (await s.req('POST', '/v1/rollouts', { library: 'pbr', candidate: '7.1.0', stages: [20, 100], policy: open })).json;
    expect((await s.req('POST', `/v1/rollouts/${paused.id}/pause`, { reason: 'watching' })).status).toBe(200);
    expect((await s.req('POST', `/v1/rollouts/${frozen.id}/freeze`, { reason: 'investigating by hand' })).status).toBe(200);
    const reports: ReturnType<typeof report>[] = [];
    for (let kept = 0; kept < 300;) {
      const m = randomUUID();
      const pins = (await s.req('GET', `/v1/pins?machine=${m}`, undefined, null)).json.pins as { library: string; version: string; arm: string }[];
      const installed = Object.fromEntries(pins.map((p) => [p.library, p.version]));
      const pbrCandidate = pins.some((p) => p.library === 'pbr' && p.arm === 'candidate');
      // pbr's candidates all error (its rollback verdict). Those that are six's candidates too are
      // left out: otherwise six's arms share those errors by chance, and a candidate arm that drew
      // more of them held the paused rollout (seen: 33% against 19%, bound +90.8 pts)
      if (pbrCandidate && pins.some((p) => p.library === 'six' && p.arm === 'candidate')) continue;
      kept++;
      for (let k = 0; k < 2; k++) reports.push(report({ machine: m, installed, outcome: pbrCandidate ? 'error' : 'pass' }));
    }
    // 20 reporter tokens: the variance clusters by source, and with 6 the interval was often
    // wider than the margin (±50 pts and more from ~50 candidate machines), a hold by chance
    await s.postSpread(reports, 20);
    // the controller evaluates them (debounced, then every tick): wait for its verdicts, not a fixed time
    const p = await waitFor('the paused rollout\'s advance verdict', async () => (await s.req('GET', `/v1/rollouts/${paused.id}`)).json, (v) => v.decision?.verdict === 'advance', 30_000);
    await waitFor('the frozen rollout\'s rollback verdict', async () => (await s.req('GET', `/v1/rollouts/${frozen.id}`)).json, (v) => v.decision?.verdict === 'rollback', 30_000);
    expect(p.decision.verdict).toBe('advance');
    expect(p).toMatchObject({ state: 'paused', stageIndex: 0 });
    const f = (await s.req('GET', `/v1/rollouts/${frozen.id}`)).json;
    expect(f.decision.verdict).toBe('rollback');
    expect(f).toMatchObject({ state: 'active', frozen: true });
  });
});
