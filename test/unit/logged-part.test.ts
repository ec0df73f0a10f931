import { resolvePolicy } from '../../server/domain/policy';
import { segmentPolicyOf } from '../../server/domain/segments';
import { loggedPartOf, type LoggedPart } from '../../server/store/rollout-fold';

/** A log entry is read back as a part only when everything the fold counts by is well formed (store/rollout-fold.ts). */
describe('loggedPartOf', () => {
  const part: LoggedPart = {
    id: 'r1', arm: 'candidate', stage: 0, machine: 'm1', day: '2026-12-01', outcome: 'fail', now: 1, source: '', mcap: 3, scap: 0,
    tests: ['t.a'], project: 'nova', python: '3.11', segments: segmentPolicyOf(resolvePolicy(2)),
  };
  const entry = (over: Record<string, unknown>) => JSON.stringify({ ...part, ...over });

  test('a part as ingestion logs it reads back as itself, with or without segment caps', () => {
    expect(loggedPartOf(JSON.stringify(part))).toEqual(part);
    const { segments: _, ...plain } = part;
    expect(loggedPartOf(JSON.stringify(plain))).toEqual(plain);
    expect(loggedPartOf(entry({ segments: { ...part.segments, segmentSourceCap: 4 } }))?.segments?.segmentSourceCap).toBe(4);
  });

  test.each([
    ['not JSON', 'not json'],
    ['an array', '[]'],
    ['an unknown arm', entry({ arm: 'both' })],
    ['an unknown outcome', entry({ outcome: 'flaky' })],
    ['a machine cap of 0', entry({ mcap: 0 })],
    ['a negative stage', entry({ stage: -1 })],
    ['a test that is not a string', entry({ tests: [1] })],
    ['segment caps that are not an object', entry({ segments: 'all' })],
    ['segment caps as an array', entry({ segments: [1, 2] })],
    ['segment caps without their limits', entry({ segments: {} })],
    ['a segment run cap of 0', entry({ segments: { ...part.segments, cap: 0 } })],
    ['a fractional segment limit', entry({ segments: { ...part.segments, maxProjects: 1.5 } })],
    ['a negative segment limit', entry({ segments: { ...part.segments, maxSignatures: -1 } })],
    ['a segment source cap that is not a count', entry({ segments: { ...part.segments, segmentSourceCap: '4' } })],
  ])('%s is not a part', (_, e) => {
    expect(loggedPartOf(e)).toBeNull();
  });
});
