import { resolvePolicy } from '../../server/domain/policy';
import { segmentPolicyOf } from '../../server/domain/segments';
import { ParsedParts } from '../../server/store/parsed-parts';
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

/** A fold's parsed entries are shared by every rollout that logged the same string (store/parsed-parts.ts). */
describe('ParsedParts', () => {
  const part = { id: 'r1', arm: 'control', stage: 1, machine: 'm1', day: '2026-12-01', outcome: 'pass', now: 1, source: '', mcap: 1, scap: 0, tests: [], project: '', python: '' };
  const entry = (id: string) => JSON.stringify({ ...part, id });

  test('an entry reads as loggedPartOf reads it, once: the same string again is the same part', () => {
    const parsed = new ParsedParts(4);
    const a = parsed.get(entry('r1'));
    expect(a).toEqual(loggedPartOf(entry('r1')));
    // a new string of the same text (as each LRANGE reply makes) finds it
    expect(parsed.get(`${entry('r1')}`.slice(0))).toBe(a);
    expect(parsed.get(entry('r2'))).not.toBe(a);
    expect(parsed.get('not json')).toBeNull();
  });

  test('bounded: an entry is kept for two generations of `size` entries, then parsed again (to an equal part)', () => {
    const parsed = new ParsedParts(2);
    const a = parsed.get(entry('a'));
    parsed.get(entry('b'));
    parsed.get(entry('c')); // a and b are now the previous generation
    expect(parsed.get(entry('a'))).toBe(a); // found there (and kept in the current one)
    for (const id of ['d', 'e', 'f', 'g']) parsed.get(entry(id));
    const again = parsed.get(entry('a'));
    expect(again).not.toBe(a);
    expect(again).toEqual(a);
  });
});
