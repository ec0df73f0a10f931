/** The figures every client renders (server/presentation/figures.ts): one format for each. */
import { decide, type Decision } from '../../server/domain/decision';
import { resolvePolicy } from '../../server/domain/policy';
import { emptySegmentEvidence } from '../../server/domain/segments';
import { armRate, count, duration, figuresOf, gauges, pct, points, wilson, type FigureInput } from '../../server/presentation/figures';
import { HOUR_MS, T0, control180, evidence, fleet, rollout } from './decision-fixtures';

const counters = (runs: number, failures: number, machines: number) => ({ runs, failures, errors: 0, machines, failingMachines: failures });

function input(decision: Decision | null, over: Partial<FigureInput> = {}): FigureInput {
  return {
    state: 'active', stages: [1, 10, 100], stageIndex: 0, stageEnteredAt: T0, policy: resolvePolicy(3), q0: 0.05, decision,
    evidence: { total: { candidate: counters(10, 3, 10), control: counters(20, 1, 20) } }, ...over,
  };
}

describe('figures', () => {
  test('formats: percent, points, durations, counts', () => {
    expect([pct(0.0412), pct(null), pct(undefined), pct(NaN), pct(0.5, 0)]).toEqual(['4.1%', '–', '–', '–', '50%']);
    expect([points(0.012), points(-0.0003), points(0.0003), points(0), points(null)]).toEqual(['+1.2 pts', '−0.03 pts', '+0.03 pts', '+0.0 pts', '–']);
    expect([duration(0), duration(42), duration(90), duration(5400), duration(86400), duration(90061), duration(-5)]).toEqual(['0s', '42s', '1m30s', '1h30m', '1d', '1d1h', '0s']);
    expect([count(12345), count(2.25), count(0)]).toEqual(['12,345', '2.3', '0']);
  });

  test('rates: raw with a Wilson interval before the first evaluation, the decision\'s capped rate after', () => {
    expect(armRate(input(null), 'candidate')).toEqual({ p: 0.3, lo: expect.closeTo(0.1078, 3), hi: expect.closeTo(0.6032, 3), basis: 'raw', text: '30.0%', interval: '10.8–60.3%', full: '30.0% [10.8–60.3]' });
    expect(armRate(input(null, { evidence: { total: { candidate: counters(0, 0, 0), control: counters(0, 0, 0) } } }), 'control')).toMatchObject({ p: null, text: '–', interval: '', full: '–' });
    expect(wilson(0, 0)).toEqual({ p: null, lo: null, hi: null });
    const d = decide({ now: T0 + HOUR_MS, rollout: rollout(), evidence: evidence(fleet('t', 20, 20, 1), control180()) });
    // p = 0.05, V = q(1−q)/100 = 4.8397e-4 → ± 1.96 · 0.0220 = 4.31 pts
    expect(armRate(input(d), 'candidate')).toMatchObject({ basis: 'decision', text: '5.0%', full: '5.0% [0.7–9.3]' });
  });

  test('gauges before the first evaluation, and without q0', () => {
    const g = gauges(input(null, { q0: null }), T0 + 90_000);
    expect(g.map((x) => [x.key, x.text, x.done])).toEqual([
      ['soak', '1m30s of 2d', false],
      ['machines', '10 of 10', true],
      ['runs', '10 of 50', false],
      ['control', '20 of 200', false],
      ['segment', 'not evaluated yet', false],
      ['bound', 'no comparison yet', false],
    ]);
    expect(g[0]!.fraction).toBeCloseTo(90 / 172800, 12);
    expect(gauges(input(null, { state: 'promoted' }), T0)).toEqual([]);
    expect(gauges(input(null, { stageIndex: 2 }), T0)).toEqual([]);
  });

  test('gauges after an evaluation: counts from the decision, the bound, a suspect segment', () => {
    const ev = { ...evidence(fleet('t', 20, 20, 1), control180()), segments: { ...emptySegmentEvidence(), signatures: [{ project: 'blazar', test: 'x', candidate: [3], control: [] }] } };
    const ro = rollout({ stages: [1, 10, 100], policy: resolvePolicy(3, { alpha: 0.05, advanceAlpha: 0.05 }) });
    const d = decide({ now: T0 + 48 * HOUR_MS, rollout: ro, evidence: ev });
    expect(d.rule).toBe('segment_suspect');
    const g = gauges(input(d, { policy: ro.policy }), T0 + 48 * HOUR_MS);
    expect(g.map((x) => [x.key, x.done])).toEqual([['soak', true], ['machines', true], ['runs', true], ['segment', false], ['bound', true]]);
    expect(g.find((x) => x.key === 'segment')!.text).toBe('blazar: x nearly proven worse (e = 6.2e+5, needs 1.3e+6)');
    expect(g.find((x) => x.key === 'bound')!.text).toBe(`D + h ${points(d.upper)} vs margin +10.0 pts`);
    const quiet = decide({ now: T0 + 48 * HOUR_MS, rollout: ro, evidence: { ...ev, segments: emptySegmentEvidence() } });
    expect(gauges(input(quiet, { policy: ro.policy }), T0).find((x) => x.key === 'segment')).toMatchObject({ done: true, text: 'none nearly proven worse' });
  });

  test('figuresOf: the decision line, levels, stage progress, segment lines, chart legend', () => {
    const ev = { ...evidence(fleet('t', 20, 20, 1), control180()), segments: { ...emptySegmentEvidence(), signatures: [{ project: 'blazar', test: 'x', candidate: [5], control: [] }] } };
    const d = decide({ now: T0 + 6 * HOUR_MS, rollout: rollout({ stages: [1, 10, 100], policy: resolvePolicy(3) }), evidence: ev });
    const f = figuresOf(input(d), T0 + 6 * HOUR_MS);
    expect(f.at).toBe(T0 + 6 * HOUR_MS);
    expect(f.difference).toBe('+0.0 pts');
    expect(f.interval).toBe(`[${points(d.lower)}, ${points(d.upper)}]`);
    expect(f.margin).toBe('+10.0 pts');
    expect(f.q0).toBe('5.0%');
    expect(f.levels).toBe('α 0.01 (run-level 0.0075, segments 0.0025) rollback / 0.05 advance');
    expect(f.stageAge).toBe('6h');
    // soak 6 h of 48 h is the least-met of soak, machines (20/10) and runs (100/50)
    expect(f.stageProgress).toBeCloseTo(6 / 48, 12);
    expect(f.segments.fired).toEqual({ family: 'signature', label: 'blazar: x', sentence: 'blazar: x fails on 5 candidate machines, 0 control machines', figure: 'e = 5.7e+9, needs 1.3e+6', fired: true, suspect: false });
    expect(f.segments.top).toHaveLength(1);
    expect(f.chart).toEqual({ bandLow: 'p_T − h, 98.5% always-valid, rollback', bandHigh: 'p_T + h, 90% always-valid, advance' });
    const none = figuresOf(input(null, { q0: null }), T0);
    expect([none.difference, none.interval, none.margin, none.q0, none.levels]).toEqual(['–', '–', '– (no q0 yet)', '–', '–']);
    expect(none.segments).toEqual({ fired: null, suspect: null, top: [] });
    expect(none.chart.bandLow).toBe('p_T − h, 98.5% always-valid, rollback');
    const one = decide({ now: T0, rollout: rollout({ policy: resolvePolicy(3, { projectAlpha: 0, pythonAlpha: 0, signatureAlpha: 0 }) }), evidence: evidence([], []) });
    expect(figuresOf(input(one), T0).levels).toBe('α 0.01 rollback / 0.05 advance');
    expect(figuresOf(input(null, { state: 'rolled_back' }), T0).stageProgress).toBe(0);
  });
});
