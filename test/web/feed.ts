import { randomUUID } from 'node:crypto';
import { report, type TestServer } from '../support/server';

/**
 * Reports from `machines` new machines of one arm of a rollout, each asking the server for
 * its pins first (as the client plugin does). `fail(i)` says whether machine i's run failed.
 */
export async function feedArm(
  s: TestServer,
  rollout: { id: string; library: string },
  arm: 'candidate' | 'control',
  machines: number,
  fail: (i: number) => boolean,
  test = 'nova.tests.unit.test_log.LogTest.test_format',
): Promise<number> {
  let n = 0;
  for (let tries = 0; n < machines && tries < 2000; tries++) {
    const m = randomUUID();
    const { json } = await s.req('GET', `/v1/pins?machine=${m}`, undefined, null);
    const pin = json.pins.find((p: { rolloutId: string }) => p.rolloutId === rollout.id);
    if (!pin || pin.arm !== arm) continue;
    const failed = fail(n);
    // several CI systems (reporter tokens): evidence from several sources (docs/trust.md)
    const r = await s.req('POST', '/v1/reports', report({
      machine: m, installed: { [rollout.library]: pin.version }, outcome: failed ? 'fail' : 'pass', failedTests: failed ? [test] : [],
    }), await s.reporter(`feed-${n % 6}`));
    if (r.status !== 202) throw new Error(`report refused: ${r.status} ${r.text}`);
    n++;
  }
  return n;
}
