import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConstraints } from '../../server/domain/constraints';
import { evaluateMarker } from '../../server/domain/markers';
import { FIXTURES, report, startTestServer, type TestServer } from '../support/server';

/**
 * Branches, Python support and bad base input through the real server on a real Redis:
 * the test server serves master (fixtures/upper-constraints.txt) and stable/2025.2 (the
 * fixture file beside it, found by DEPCANARY_BRANCH_FILES=auto).
 */
const UC = readFileSync(join(FIXTURES, 'upper-constraints.txt'), 'utf8');
const UC_2025_2 = readFileSync(join(FIXTURES, 'upper-constraints-stable-2025.2.txt'), 'utf8');

/** The version of `key` pip would install on Python `py` from a served file. */
function versionOn(text: string, key: string, py: string): string[] {
  const f = parseConstraints(text);
  return (f.index.get(key) ?? []).map((i) => f.lines[i]!.pin!).filter((p) => !p.marker || evaluateMarker(p.marker, { python_version: py })).map((p) => p.version);
}

describe('branches', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  /** A machine in the wanted arm of a rollout (by its /v1/pins answer). */
  async function machineIn(rolloutId: string, arm: 'candidate' | 'control', branch: string): Promise<string> {
    for (let i = 0; i < 500; i++) {
      const m = randomUUID();
      const { json } = await s.req('GET', `/v1/pins?machine=${m}&branch=${encodeURIComponent(branch)}`, undefined, null);
      if (json.pins.find((p: { rolloutId: string; arm: string }) => p.rolloutId === rolloutId)?.arm === arm) return m;
    }
    throw new Error(`no ${arm} machine found`);
  }

  test('each branch is served its own file, by branch or by series, with X-Depcanary-Branch; unknown ones are a 404', async () => {
    const cases: [string, string, string][] = [
      ['/v1/constraints.txt', 'master', UC],
      ['/v1/constraints.txt?branch=master', 'master', UC],
      ['/v1/constraints.txt?branch=stable/2025.2', 'stable/2025.2', UC_2025_2],
      ['/v1/constraints.txt?branch=2025.2&machine=not-a-uuid', 'stable/2025.2', UC_2025_2],
      ['/constraints/upper/master', 'master', UC],
      ['/constraints/upper/2025.2', 'stable/2025.2', UC_2025_2],
      [`/constraints/upper/2025.2?machine=${randomUUID()}`, 'stable/2025.2', UC_2025_2],
    ];
    for (const [path, branch, text] of cases) {
      const r = await s.req('GET', path, undefined, null);
      expect([path, r.status, r.headers.get('x-depcanary-branch')]).toEqual([path, 200, branch]);
      expect(r.text).toBe(text);
    }
    for (const path of ['/v1/constraints.txt?branch=stable/2023.1', '/constraints/upper/zed', `/constraints/upper/${'a'.repeat(40)}`, '/constraints/upper/..%2F..%2Fetc']) {
      const r = await s.req('GET', path, undefined, null);
      expect([path, r.status, r.json?.error?.code]).toEqual([path, 404, 'not_found']);
    }
    expect((await s.req('GET', '/constraints/upper/zed', undefined, null)).json.error.message).toBe(
      'no constraints for branch "zed" (served: master, stable/2025.2; a series like 2025.2 means stable/2025.2, then unmaintained/2025.2)',
    );
    expect((await s.req('GET', `/v1/pins?machine=${randomUUID()}&branch=2024.1`, undefined, null)).status).toBe(404);
    const etag = (await s.req('GET', '/constraints/upper/2025.2', undefined, null)).headers.get('etag')!;
    expect((await s.req('GET', '/constraints/upper/2025.2', undefined, null, { 'if-none-match': etag })).status).toBe(304);
  });

  test('two branches, two rollouts of the same library: each machine gets each branch\'s own file, reports count per branch', async () => {
    const master = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100], requiresPython: '' })).json;
    const stable = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '7.3.0', branch: '2025.2', stages: [50, 100], requiresPython: '' })).json;
    expect([master.branch, master.stable, stable.branch, stable.stable]).toEqual(['master', '8.3.0', 'stable/2025.2', '7.2.1']);
    // Neither supersedes the other: one active rollout per (branch, library).
    expect((await s.req('GET', `/v1/rollouts/${master.id}`)).json.state).toBe('active');
    const both = await machineIn(master.id, 'candidate', 'master');
    const onMaster = (await s.req('GET', `/v1/constraints.txt?machine=${both}`, undefined, null)).text;
    expect(onMaster).toBe(UC.replace('oslo.log===8.3.0', 'oslo.log===8.4.0'));
    const stablePins = (await s.req('GET', `/v1/pins?machine=${both}&branch=stable/2025.2`, undefined, null)).json;
    expect(stablePins.branch).toBe('stable/2025.2');
    const arm = stablePins.pins[0].arm;
    const onStable = (await s.req('GET', `/constraints/upper/2025.2?machine=${both}`, undefined, null)).text;
    expect(onStable).toBe(arm === 'candidate' ? UC_2025_2.replace('oslo.log===7.2.1', 'oslo.log===7.3.0') : UC_2025_2);
    // A report names its branch, or its versions tell which branch's rollout it belongs to.
    await s.postReports(report({ machine: both, installed: { 'oslo.log': '8.4.0' } }));
    await s.postReports(report({ machine: both, installed: { 'oslo.log': arm === 'candidate' ? '7.3.0' : '7.2.1' }, branch: 'stable/2025.2' }));
    const [m, st] = await Promise.all([s.req('GET', `/v1/rollouts/${master.id}`), s.req('GET', `/v1/rollouts/${stable.id}`)]);
    expect(m.json.evidence).toMatchObject({ counted: 1, mismatched: 0, total: { candidate: { runs: 1 } } });
    expect(st.json.evidence).toMatchObject({ counted: 1, mismatched: 0, total: { [arm]: { runs: 1 } } });
    const listed = (await s.req('GET', '/v1/rollouts?branch=stable/2025.2')).json.rollouts.map((r: { id: string }) => r.id);
    expect(listed).toEqual([stable.id]);
    for (const r of [master, stable]) await s.req('POST', `/v1/rollouts/${r.id}/rollback`, { reason: 'cleanup' });
  });

  test('a library pinned per Python: candidate machines get the candidate only on the stable\'s line; a Python the candidate drops keeps the old version and its reports do not count', async () => {
    // numpy on stable/2025.2: 2.0.0 for py3.9, 2.2.6 for py>=3.10; 2.3.0 needs Python >= 3.11.
    const r = await s.req('POST', '/v1/rollouts', { library: 'numpy', candidate: '2.3.0', branch: 'stable/2025.2', requiresPython: '>=3.11', stages: [50, 100] });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ stable: '2.2.6', keptPythons: ['3.10'], requiresPython: '>=3.11', requiresPythonSource: 'request', lines: { status: 'running', candidateLines: 1, controlLines: 0 } });
    const cand = await machineIn(r.json.id, 'candidate', 'stable/2025.2');
    const text = (await s.req('GET', `/constraints/upper/2025.2?machine=${cand}`, undefined, null)).text;
    expect(text).toContain("\nnumpy===2.0.0;python_version=='3.9'\nnumpy===2.2.6;python_version=='3.10'\nnumpy===2.3.0;python_version>='3.11'\n");
    expect(versionOn(text, 'numpy', '3.9')).toEqual(['2.0.0']);
    expect(versionOn(text, 'numpy', '3.10')).toEqual(['2.2.6']);
    expect(versionOn(text, 'numpy', '3.12')).toEqual(['2.3.0']);
    const control = await machineIn(r.json.id, 'control', 'stable/2025.2');
    expect((await s.req('GET', `/constraints/upper/2025.2?machine=${control}`, undefined, null)).text).toBe(UC_2025_2);
    // A py3.10 env of a candidate machine ran 2.2.6 as it should: not candidate evidence, not a mismatch.
    await s.postReports(report({ machine: cand, installed: { numpy: '2.2.6' }, python: '3.10.14', outcome: 'fail' }));
    await s.postReports(report({ machine: cand, installed: { numpy: '2.3.0' }, python: '3.12.1' }));
    const v = (await s.req('GET', `/v1/rollouts/${r.json.id}`)).json;
    expect(v.evidence).toMatchObject({ counted: 1, mismatched: 0, total: { candidate: { runs: 1, failures: 0 } } });
    await s.req('POST', `/v1/rollouts/${r.json.id}/rollback`, { reason: 'cleanup' });
  });

  test('the cliff case: a release that drops a Python is split as the release team does, and promotion writes the split into the base', async () => {
    // cliff on master is unmarked; with py3.9 among the community's Pythons, 4.10.0 (>=3.10) keeps 3.9 on the stable.
    const put = await s.req('PUT', '/v1/constraints?branch=stable/2099.1', readFileSync(join(FIXTURES, 'upper-constraints-before-cliff-split.txt'), 'utf8'));
    expect(put.status).toBe(200);
    const r = await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.10.0', branch: 'stable/2099.1', requiresPython: '>=3.10', stages: [50, 100] });
    expect(r.json).toMatchObject({ stable: '4.9.1', keptPythons: ['3.9'] });
    expect((await s.req('POST', `/v1/rollouts/${r.json.id}/promote`, { reason: 'fine' })).json.state).toBe('promoted');
    const served = (await s.req('GET', `/constraints/upper/2099.1?machine=${randomUUID()}`, undefined, null)).text;
    expect(served).toBe(readFileSync(join(FIXTURES, 'upper-constraints-cliff-split.txt'), 'utf8'));
    const branches = (await s.req('GET', '/v1/branches')).json.branches;
    expect(branches.find((b: { branch: string }) => b.branch === 'stable/2099.1').promotedPending).toEqual([{ library: 'cliff', candidate: '4.10.0', rolloutId: r.json.id }]);
    // The file catching up (the bump merged) drops the override; the bytes stay the same.
    await s.req('PUT', '/v1/constraints?branch=stable/2099.1', served);
    expect((await s.req('GET', '/v1/branches')).json.branches.find((b: { branch: string }) => b.branch === 'stable/2099.1').promotedPending).toEqual([]);
  });

  test('stable vs base: a stable the base does not pin is refused naming the base pin', async () => {
    const r = await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.12.0', stable: '4.10.0', branch: 'stable/2025.2', requiresPython: '' });
    expect(r.status).toBe(409);
    expect(r.json.error).toEqual({
      code: 'conflict', field: 'stable',
      message: "stable 4.10.0 is not what stable/2025.2 pins for cliff: the base has cliff===4.9.1;python_version=='3.9' and cliff===4.11.0;python_version>='3.10'; give the pinned version as stable",
    });
    expect((await s.req('POST', '/v1/rollouts', { library: 'cliff', candidate: '4.12.0', branch: 'stable/1999.9', requiresPython: '' })).status).toBe(404);
  });

  test('the bump merged first: the control is served the stable explicitly; a rollback pins the stable for everyone until the base follows', async () => {
    // master pins oslo.log 8.3.0: a rollout 8.2.0 → 8.3.0 is of a bump that already merged.
    const r = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [50, 100], requiresPython: '' })).json;
    expect(r).toMatchObject({ baseMode: 'candidate', lines: { candidateLines: 0, controlLines: 1 } });
    const control = await machineIn(r.id, 'control', 'master');
    const cand = await machineIn(r.id, 'candidate', 'master');
    const c = await s.req('GET', `/v1/constraints.txt?machine=${control}`, undefined, null);
    expect(c.text).toBe(UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0'));
    expect(c.headers.get('x-depcanary-overrides')).toBe('oslo.log=8.2.0');
    expect((await s.req('GET', `/v1/constraints.txt?machine=${cand}`, undefined, null)).text).toBe(UC);
    // Reports of the control on 8.2.0 are control evidence, not "neither" version.
    await s.postReports(report({ machine: control, installed: { 'oslo.log': '8.2.0' } }));
    expect((await s.req('GET', `/v1/rollouts/${r.id}`)).json.evidence).toMatchObject({ mismatched: 0, total: { control: { runs: 1 } } });

    expect((await s.req('POST', `/v1/rollouts/${r.id}/rollback`, { reason: 'breaks nova', bug: { closes: '2162085' }, exclude: false })).status).toBe(200);
    const v = (await s.req('GET', `/v1/rollouts/${r.id}`)).json;
    expect(v.emergencyPin).toMatchObject({ library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', branch: 'master', inForce: true, reason: 'breaks nova' });
    for (const m of [control, cand, randomUUID()]) {
      expect((await s.req('GET', `/v1/constraints.txt?machine=${m}`, undefined, null)).text).toBe(UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0'));
    }
    expect((await s.req('GET', `/v1/pins?machine=${cand}`, undefined, null)).json.emergencyPins).toEqual([expect.objectContaining({ library: 'oslo.log', stable: '8.2.0' })]);
    expect((await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', requiresPython: '' })).status).toBe(409);
    // The base follows (the revert merged): the pin ends by itself.
    await s.req('PUT', '/v1/constraints', UC.replace('oslo.log===8.3.0', 'oslo.log===8.2.0'));
    expect((await s.req('GET', `/v1/rollouts/${r.id}`)).json.emergencyPin).toBeNull();
    await s.req('PUT', '/v1/constraints', UC);
    // ... and a person can lift one by hand, with the reason in the audit trail.
    const r2 = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', requiresPython: '' })).json;
    await s.req('POST', `/v1/rollouts/${r2.id}/rollback`, { reason: 'bad' });
    expect((await s.req('GET', '/v1/constraints.txt', undefined, null)).text).toContain('\noslo.log===8.2.0\n');
    const lifted = await s.req('POST', `/v1/rollouts/${r2.id}/lift-pin`, { reason: 'revert merged upstream' });
    expect(lifted.json.emergencyPin).toBeNull();
    expect((await s.req('GET', '/v1/constraints.txt', undefined, null)).text).toBe(UC);
    const events = (await s.req('GET', `/v1/rollouts/${r2.id}/events`)).json.events;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['created', 'rolled_back', 'emergency_pin_lifted']);
    expect((await s.req('POST', `/v1/rollouts/${r2.id}/lift-pin`, { reason: 'again' })).status).toBe(409);
  });

  test('bad base input: a 150 KB line is refused with its line named and nothing stored changes; an empty or mostly-dropped file is refused unless forced', async () => {
    const before = await s.req('GET', '/v1/constraints?branch=stable/2025.2');
    const hostile = `${UC_2025_2}a===1${' '.repeat(150_000)}x\n`;
    const r = await s.req('PUT', '/v1/constraints?branch=stable/2025.2', hostile);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe(`constraints line ${UC_2025_2.split('\n').length} is 150006 characters long; the limit is 2048`);
    expect((await s.req('GET', '/v1/constraints?branch=stable/2025.2')).text).toBe(before.text);
    const comments = await s.req('PUT', '/v1/constraints?branch=stable/2025.2', '# emptied by mistake\n');
    expect(comments.json.error.message).toBe('the new constraints for stable/2025.2 pin nothing (1 line, no Name===version line); refusing to replace the base with it unless forced');
    expect((await s.req('PUT', '/v1/constraints?branch=stable/2025.2', '')).status).toBe(400);
    const half = UC_2025_2.split('\n').slice(0, 250).join('\n') + '\n';
    const dropped = await s.req('PUT', '/v1/constraints?branch=stable/2025.2', half);
    expect(dropped.status).toBe(400);
    expect(dropped.json.error.message).toMatch(/^the new constraints for stable\/2025.2 drop \d+ of the 572 libraries the base pins/);
    expect((await s.req('GET', '/constraints/upper/2025.2', undefined, null)).text).toBe(UC_2025_2);
    const forced = await s.req('PUT', '/v1/constraints?branch=stable/2025.2&force=true', half);
    expect(forced.status).toBe(200);
    expect((await s.req('GET', '/constraints/upper/2025.2', undefined, null)).text).toBe(half);
    expect((await s.req('PUT', '/v1/constraints?branch=stable/2025.2&force=true', UC_2025_2)).status).toBe(200);
  });
});
