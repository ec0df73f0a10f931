import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { bucketOf, inCandidateArm } from '../../server/domain/bucketing';
import { parseConstraints, type ConstraintsFile } from '../../server/domain/constraints';
import { etagOf } from '../../server/domain/etag';
import { LineSplicer } from '../../server/domain/line-splice';
import { resolvePolicy } from '../../server/domain/policy';
import { createRollout, type Rollout } from '../../server/domain/rollout';
import { applyLineChanges, type LineChange } from '../../server/domain/rollout-lines';
import { bodyOf, PinsSnapshot, type BranchInput, type BranchSnapshot } from '../../server/services/pins';
import type { EmergencyPin, LineOverride } from '../../server/store/base-store';

const ROOT = join(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** What constraintsFor served before the splicing: the old full render, byte for byte. */
function oldRender(b: BranchSnapshot, machine: string | null): { text: string; overrides: string[] } {
  const emergency = b.emergency.filter((p) => p.inForce).map((p) => `${p.library}=${p.stable}`);
  if (machine === null) return { text: b.stable.text, overrides: emergency };
  const changes: LineChange[] = [];
  const overrides = [...emergency];
  let any = false;
  for (const r of b.live) {
    const c = inCandidateArm(bucketOf(r.salt, machine), r.percent);
    const ch = c ? r.candidateChanges : r.controlChanges;
    if (ch.length === 0) continue;
    any = true;
    changes.push(...ch);
    overrides.push(`${r.library}=${c ? r.candidate : r.stable}`);
  }
  return { text: any ? applyLineChanges(b.effective, changes) : b.stable.text, overrides };
}

/** The first `n` pinned libraries of a file without markers on their line, with their version. */
function pinned(text: string, n: number, skip = 0): { library: string; version: string }[] {
  const out: { library: string; version: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9._-]+)===([0-9][^;\s]*)\r?$/.exec(line);
    // PEP 440 release segments only (the candidates below append to them)
    if (m && /^\d+(\.\d+)*$/.test(m[2]!)) out.push({ library: m[1]!, version: m[2]! });
  }
  return out.slice(skip, skip + n);
}

let seq = 0;
function rollout(library: string, stable: string, candidate: string, percent: number, extra: Partial<Parameters<typeof createRollout>[0]> = {}): Rollout {
  return createRollout({
    id: `r${++seq}`, library, stable, candidate, stages: [percent, 100], salt: randomUUID().replace(/-/g, ''),
    policy: resolvePolicy(2), actor: 'rm', now: 1000, ...extra,
  });
}

function snapshot(text: string, rollouts: Rollout[], input: Partial<BranchInput> = {}, version = 1): BranchSnapshot {
  const base = { branch: 'master', text, etag: etagOf(text), importedAt: 1, source: 'test' };
  const s = PinsSnapshot.build(version, new Map([['master', { base, overrides: new Map(), emergency: new Map(), ...input }]]), rollouts);
  return s.resolve('master')!;
}

/** A mix as a generate-constraints bundle makes it: candidates newer than the pin at several stages, some with a Requires-Python that splits the line, and bumps merged first (the base pins the candidate). */
function bundle(text: string, n: number): Rollout[] {
  const percents = [1, 10, 25, 50, 90];
  return pinned(text, n).map(({ library, version }, i) => {
    const p = percents[i % percents.length]!;
    if (i % 5 === 3) return rollout(library, '0.0.1', version, p); // the base pins the candidate: the control gets the stable
    if (i % 7 === 2) return rollout(library, version, `${version}.9999`, p, { requiresPython: '>=3.12', stableRequiresPython: null, requiresPythonSource: 'request' });
    return rollout(library, version, `${version}.9999`, p);
  });
}

const FILES: [string, string][] = [
  ['the master file (data/upper-constraints.txt)', read('data/upper-constraints.txt')],
  ['a stable branch with marker-split lines (data/upper-constraints-stable-2025.1.txt)', read('data/upper-constraints-stable-2025.1.txt')],
  ['a cliff-split file (test/fixtures/upper-constraints-cliff-split.txt)', read('test/fixtures/upper-constraints-cliff-split.txt')],
  ['CRLF line endings and no final newline', read('data/upper-constraints.txt').trimEnd().replace(/\n/g, '\r\n')],
];

describe('constraintsFor: spliced bodies equal the full render', () => {
  test.each(FILES)('%s, 40 live rollouts: body and overrides byte-identical for random machines', (_name, text) => {
    const b = snapshot(text, bundle(text, 40));
    expect(b.live.filter((r) => r.status === 'running').length).toBe(40);
    expect(b.live.some((r) => r.controlChanges.length > 0)).toBe(true);
    expect(b.live.some((r) => r.candidateChanges.some((c) => c.after.length > 1))).toBe(true);
    fc.assert(fc.property(fc.uuid(), (machine) => {
      const got = b.constraintsFor(machine);
      const want = oldRender(b, machine);
      expect(bodyOf(got).toString('utf8')).toBe(want.text);
      expect(bodyOf(got).equals(Buffer.from(want.text))).toBe(true);
      expect(got.length).toBe(Buffer.byteLength(want.text));
      expect(got.overrides.map((o) => `${o.library}=${o.version}`)).toEqual(want.overrides);
    }), { numRuns: 300 });
  });

  test('two live rollouts on the same line (not made by the API, but the snapshot takes what the store holds): the later one wins, as in the full render', () => {
    const text = FILES[0]![1];
    const [l] = pinned(text, 1);
    const b = snapshot(text, [rollout(l!.library, l!.version, `${l!.version}.1`, 50), rollout(l!.library, l!.version, `${l!.version}.2`, 50)]);
    expect(b.live[0]!.candidateChanges[0]!.index).toBe(b.live[1]!.candidateChanges[0]!.index);
    const bodies = new Set<string>();
    for (let k = 0; k < 100; k++) {
      const m = randomUUID();
      const got = bodyOf(b.constraintsFor(m)).toString();
      expect(got).toBe(oldRender(b, m).text);
      bodies.add(got);
    }
    expect(bodies.size).toBe(3); // stable, .1 (only the first's candidate), .2 (the second's, alone or over the first)
  });

  test('no machine id, or a machine in no arm that changes a line: the stable file and its ETag', () => {
    const text = FILES[0]![1];
    const b = snapshot(text, [rollout('oslo.log', pinned(text, 1)[0]!.version, '99.0', 1)]);
    expect(b.constraintsFor(null)).toEqual({ chunks: [b.stable.body], length: b.stable.body.length, etag: b.stable.etag, overrides: [] });
    const control = Array.from({ length: 200 }, () => randomUUID()).find((m) => !inCandidateArm(bucketOf(b.live[0]!.salt, m), 1))!;
    expect(b.constraintsFor(control).etag).toBe(etagOf(text));
  });

  test('with a promotion and an emergency pin under the rollouts: the same bytes and overrides as the full render', () => {
    const text = FILES[1]![1];
    const [p, e, ...rest] = pinned(text, 12);
    const line = (l: { library: string; version: string }, stable: string, candidate: string): LineOverride => ({
      rolloutId: `x-${l.library}`, name: l.library, key: l.library.toLowerCase().replace(/[-_.]+/g, '-'), stable, candidate, requiresPython: null, stableRequiresPython: null, pythons: [],
    });
    const emergency: EmergencyPin = { ...line(e!, '0.0.1', e!.version), at: 5, reason: 'broke nova' };
    const b = snapshot(text, rest.map((l, i) => rollout(l.library, l.version, `${l.version}.1`, 10 + 8 * i)), {
      overrides: new Map([[p!.library, line(p!, p!.version, `${p!.version}.7`)]]), emergency: new Map([[e!.library, emergency]]),
    });
    expect(b.promoted.length).toBe(1);
    expect(b.emergency[0]!.inForce).toBe(true);
    for (let k = 0; k < 300; k++) {
      const m = randomUUID();
      const want = oldRender(b, m);
      const got = b.constraintsFor(m);
      expect(bodyOf(got).toString()).toBe(want.text);
      expect(got.overrides.map((o) => `${o.library}=${o.version}`)).toEqual(want.overrides);
    }
  });
});

describe('constraintsFor: ETags name the bytes', () => {
  const text = FILES[0]![1];
  const machines = Array.from({ length: 400 }, () => randomUUID());

  test('equal ETags exactly when the bodies are equal (3 rollouts at 50%: 8 combinations)', () => {
    const b = snapshot(text, bundle(text, 3).map((r) => ({ ...r, stages: [50, 100] })));
    const served = machines.map((m) => b.constraintsFor(m));
    expect(new Set(served.map((s) => s.etag)).size).toBe(8);
    for (let i = 0; i < served.length; i += 7) {
      for (let j = 0; j < served.length; j += 3) {
        expect(served[i]!.etag === served[j]!.etag).toBe(bodyOf(served[i]!).equals(bodyOf(served[j]!)));
      }
    }
    expect(served.every((s) => s.etag === b.stable.etag || !bodyOf(s).equals(b.stable.body))).toBe(true);
  });

  test('the same in another snapshot (another version, another process) built from the same state', () => {
    const rollouts = bundle(text, 40);
    const a = snapshot(text, rollouts, {}, 1);
    const b = snapshot(text, rollouts, {}, 2);
    for (const m of machines) expect(b.constraintsFor(m).etag).toBe(a.constraintsFor(m).etag);
  });

  test('different when the base differs elsewhere, or a rollout moves to another stage', () => {
    const rollouts = bundle(text, 40);
    const a = snapshot(text, rollouts);
    const edited = snapshot(`${text}# a comment added at the end\n`, rollouts);
    const moved = snapshot(text, rollouts.map((r, i) => (i === 0 ? { ...r, candidate: `${r.candidate}1` } : r)));
    for (const m of machines) {
      const x = a.constraintsFor(m);
      if (x.etag === a.stable.etag) continue;
      expect(edited.constraintsFor(m).etag).not.toBe(x.etag);
      const y = moved.constraintsFor(m);
      expect(y.etag === x.etag).toBe(bodyOf(y).equals(bodyOf(x)));
    }
  });

  test('a combination is kept the second time it is asked for, and what is kept stays bounded', () => {
    const b = snapshot(text, bundle(text, 40));
    // a new machine per request: nearly every combination is its own, asked for once
    const once = Array.from({ length: 2000 }, () => randomUUID());
    for (const m of once) b.constraintsFor(m);
    const kept = b.cachedCombinations;
    expect(kept).toBeLessThan(100); // only those several machines share (all in the control arm)
    // the same machines again: now asked for twice, kept, at most 512
    for (const m of once) b.constraintsFor(m);
    expect(b.cachedCombinations).toBeGreaterThan(kept + 100);
    expect(b.cachedCombinations).toBeLessThanOrEqual(512);
    const m = machines[0]!;
    expect(b.constraintsFor(m)).toEqual(b.constraintsFor(m));
  });
});

describe('LineSplicer', () => {
  const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', '=', '.', ';', ' ', 'é', '€', '𝄞'), maxLength: 12 });
  // pins (a distinct library each), comments with any text and blank lines; LF or CRLF, with or without a final line ending
  const fileLine = fc.oneof(fc.constant(null), lineArb.map((t) => `# ${t}`), fc.constant(''));
  const fileArb = fc.tuple(fc.array(fileLine, { minLength: 1, maxLength: 30 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
    .map(([lines, eol, final]) => lines.map((l, i) => l ?? `lib${i}===1.${i}`).join(eol) + (final ? eol : ''));

  test('property: render() is applyLineChanges() byte for byte, for any changes (the last for a line wins)', () => {
    fc.assert(fc.property(fileArb, fc.array(fc.tuple(fc.nat(), fc.array(lineArb, { minLength: 1, maxLength: 3 })), { maxLength: 10 }), (text, raw) => {
      const file: ConstraintsFile = parseConstraints(text);
      const changes: LineChange[] = file.lines.length === 0 ? [] : raw.map(([i, after]) => ({ index: i % file.lines.length, before: file.lines[i % file.lines.length]!.text, after }));
      const splicer = new LineSplicer(file);
      expect(splicer.whole.toString()).toBe(text);
      const last = new Map(changes.map((c) => [c.index, c]));
      const splices = [...last.values()].sort((a, b) => a.index - b.index).map((c) => splicer.splice(c));
      expect(splicer.render(splices).toString()).toBe(applyLineChanges(file, changes));
      // the pieces: views of the file and the splices' bytes, none empty, joined the same
      const chunks = splicer.chunks(splices);
      expect(Buffer.concat(chunks).toString()).toBe(applyLineChanges(file, changes));
      expect(chunks.length === 1 || chunks.every((c) => c.length > 0)).toBe(true);
    }));
  });

  test('a change of a line the file does not have is refused', () => {
    const splicer = new LineSplicer(parseConstraints('a===1\n'));
    expect(() => splicer.splice({ index: 3, before: 'x', after: ['y'] })).toThrow('line 3 is not in the file (1 lines)');
  });
});
