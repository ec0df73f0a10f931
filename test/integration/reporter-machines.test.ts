import { report, startTestServer, type TestServer } from '../support/server';

/**
 * A reporter token may send any machine id (a CI job names its own), so its runs count in the
 * evidence as "<source>/<machine>": a token that names an enrolled developer machine's id (or
 * another CI system's job) adds runs to a machine of its own, never to theirs (docs/trust.md).
 * Real server and Redis; the machine-days read back from the store.
 */
describe('a reporter token cannot add runs to another source\'s machine', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.close());

  test('the enrolled machine keeps its one run under its own source; the token\'s runs are its own machine', async () => {
    const r = (await s.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', stages: [50, 100], requiresPython: '' })).json;
    const dev = await s.enrol('203.0.113.7');
    const pins = (await s.req('GET', `/v1/pins?machine=${dev.machine}`, undefined, null)).json.pins as { library: string; version: string }[];
    const six = pins.find((p) => p.library === 'six')?.version ?? '1.17.0';
    const arm = six === '1.18.0' ? 'candidate' : 'control';
    expect((await s.postReports(report({ machine: dev.machine, installed: { six } }), dev.credential)).status).toBe(202);
    const evil = await s.reporter('evil');
    const fails = Array.from({ length: 3 }, () => report({ machine: dev.machine, installed: { six }, outcome: 'fail', failedTests: ['t.test_x'] }));
    expect((await s.postReports({ reports: fails }, evil)).status).toBe(202);
    // another CI system naming the same job id counts apart from both
    expect((await s.postReports(report({ machine: dev.machine, installed: { six } }), await s.reporter('other'))).status).toBe(202);

    const days = await s.server.runtime.telemetry.machineDays(r.id, arm);
    const byMachine = Object.fromEntries(days.map((d) => [d.machine, { runs: d.runs, failures: d.failures, source: d.source }]));
    expect(Object.keys(byMachine).sort()).toEqual([`ci:evil/${dev.machine}`, `ci:other/${dev.machine}`, dev.machine].sort());
    expect(byMachine[dev.machine]).toMatchObject({ runs: 1, failures: 0 });
    expect(byMachine[dev.machine]!.source).toMatch(/^net:[0-9a-f]{16}$/);
    expect(byMachine[`ci:evil/${dev.machine}`]).toEqual({ runs: 3, failures: 3, source: 'ci:evil' });
    expect(byMachine[`ci:other/${dev.machine}`]).toEqual({ runs: 1, failures: 0, source: 'ci:other' });

    // the machine's latest reports stay under the id as sent
    const latest = (await s.req('GET', `/v1/reports?machine=${dev.machine}`)).json.reports as unknown[];
    expect(latest).toHaveLength(5);
  });

});
