import type { MachineDay } from '../../server/domain/evidence';
import { historicalQ0, historyWindow } from '../../server/domain/q0';

const md = (machine: string, day: string, runs: number, failures: number, errors = 0): MachineDay => ({ machine, day, runs, failures, errors });
const history = (...machineDays: MachineDay[]) => ({ machineDays, failingTests: [] });
const POLICY = { cap: 5, minControlRuns: 10 };

describe('q0 from the fleet history', () => {
  test('capped like the decision rule: 12 runs / 6 failures in one day weigh 5 runs / 2.5 failures', () => {
    const h = history(
      md('a', '2024-03-01', 12, 6),
      md('b', '2024-03-01', 3, 0, 1), // an error counts as a failure: 3 runs / 1 failure
      md('b', '2024-02-29', 2, 0),
    );
    // N = 5 + 3 + 2 = 10, F = 2.5 + 1 + 0 = 3.5
    const r = historicalQ0(h, POLICY);
    expect(r.cappedRuns).toBe(10);
    expect(r.machines).toBe(2);
    expect(r.q0).toBeCloseTo(0.35, 12);
  });

  test('null below policy.minControlRuns capped runs, the rate from the threshold on', () => {
    const h = history(md('a', '2024-03-01', 12, 6), md('b', '2024-03-01', 4, 1));
    // N = 5 + 4 = 9, F = 2.5 + 1
    expect(historicalQ0(h, { cap: 5, minControlRuns: 10 })).toEqual({ q0: null, cappedRuns: 9, machines: 2 });
    expect(historicalQ0(h, { cap: 5, minControlRuns: 9 }).q0).toBeCloseTo(3.5 / 9, 12);
    // The cap is the policy's: uncapped-ish, the same history is 16 runs.
    expect(historicalQ0(h, { cap: 100, minControlRuns: 16 }).q0).toBeCloseTo(7 / 16, 12);
  });

  test('empty history: no q0, even with a zero threshold', () => {
    expect(historicalQ0(history(), POLICY)).toEqual({ q0: null, cappedRuns: 0, machines: 0 });
    expect(historicalQ0(history(), { cap: 5, minControlRuns: 0 }).q0).toBeNull();
    expect(historicalQ0(history(md('a', '2024-03-01', 0, 0)), { cap: 5, minControlRuns: 0 }).q0).toBeNull();
  });

  test('the window is the UTC day of now and the 7 before it, across a month boundary', () => {
    const now = Date.parse('2024-03-03T23:59:59.999Z');
    expect(historyWindow(now)).toEqual([
      '2024-02-25', '2024-02-26', '2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02', '2024-03-03',
    ]);
    expect(historyWindow(Date.parse('2025-01-01T00:00:00Z'), 2)).toEqual(['2024-12-30', '2024-12-31', '2025-01-01']);
  });
});
