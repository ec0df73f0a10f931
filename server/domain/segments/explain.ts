import type { SegmentFinding, SegmentSummary } from './check';

/**
 * One sentence for a segment finding, e.g.
 *   "blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control machines"
 *   "Python 3.9: the first run errored (install or set-up) on 5 of 5 candidate machines, 1 of 212 control machines"
 * Machine counts of the segment are shown when it is tracked ("of N"), else only the events.
 */
export function findingSentence(f: SegmentFinding, firedTests: readonly string[] = []): string {
  const of = (n: number, total: number | null, arm: string) =>
    total === null ? `${n} ${arm} machine${n === 1 ? '' : 's'}` : `${n} of ${total} ${arm} machine${total === 1 ? '' : 's'}`;
  const where = `${of(f.candidateEvents, f.candidateMachines, 'candidate')}, ${of(f.controlEvents, f.controlMachines, 'control')}`;
  if (f.family === 'signature') {
    const n = Math.max(1, firedTests.length);
    const what = n === 1 ? `${f.test} fails` : `${n} tests fail`;
    return `${f.segment}: ${what} on ${where}`;
  }
  const happened = f.event === 'error' ? 'errored (install or set-up)' : 'failed';
  return `${f.label}: the first run ${happened} on ${where}`;
}

/** "e = 4.8e+7, needs 1.3e+6": the e-value against the level it had to reach. */
export function evidenceFigure(f: SegmentFinding): string {
  return `e = ${sci(f.log10E)}, needs ${sci(f.log10Threshold)}`;
}

function sci(log10: number): string {
  if (!Number.isFinite(log10)) return log10 > 0 ? '∞' : '0';
  const e = Math.floor(log10);
  const m = 10 ** (log10 - e);
  // 9.96 rounds to "10.0": carry it into the exponent
  return m >= 9.95 ? `1.0e${fmtExp(e + 1)}` : `${m.toFixed(1)}e${fmtExp(e)}`;
}

function fmtExp(e: number): string {
  return e >= 0 ? `+${e}` : String(e);
}

/** The segment rollback's sentence (the decision's reason names the segment). */
export function segmentReason(s: SegmentSummary): string {
  const f = s.fired;
  if (!f) return '';
  return `${findingSentence(f, s.firedTests)} (${evidenceFigure(f)})`;
}
