import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as pep440 from '@renovatebot/pep440';
import { parseConstraints, type ConstraintsFile } from '../../server/domain/constraints';
import { diffConstraints, replaceLibraryLines } from '../../server/domain/constraints-diff';
import { evaluateMarker } from '../../server/domain/markers';
import { communityPythons } from '../../server/domain/pythons';
import {
  applyLineChanges, defaultStable, planForNewRollout, planLines, revertLineChanges, type RolloutLines,
} from '../../server/domain/rollout-lines';

const FIXTURES = join(__dirname, '../fixtures');
const read = (f: string) => readFileSync(join(FIXTURES, f), 'utf8');
const UC_2025_2 = read('upper-constraints-stable-2025.2.txt');
const F_2025_2 = parseConstraints(UC_2025_2);
const PY_2025_2 = communityPythons(F_2025_2, null);

function spec(over: Partial<RolloutLines> & Pick<RolloutLines, 'key' | 'stable' | 'candidate'>): RolloutLines {
  return { pythons: PY_2025_2, candidateRequiresPython: null, stableRequiresPython: null, ...over };
}

/** The version pip would install on Python `py` from a constraints text: the lines whose marker holds there. */
function versionsOn(text: string | ConstraintsFile, key: string, py: string): string[] {
  const f = typeof text === 'string' ? parseConstraints(text) : text;
  return (f.index.get(key) ?? [])
    .map((i) => f.lines[i]!.pin!)
    .filter((p) => p.marker === null || evaluateMarker(p.marker, { python_version: py }))
    .map((p) => p.version);
}

function bump(v: string): string {
  const e = pep440.explain(v)!;
  return [...e.release.slice(0, -1), (e.release[e.release.length - 1] ?? 0) + 1].join('.');
}

/** Every (library, version pinned on a line) of the file: a stable a rollout could start from. */
function stables(f: ConstraintsFile): { key: string; stable: string }[] {
  const out = new Map<string, { key: string; stable: string }>();
  for (const l of f.lines) if (l.pin) out.set(`${l.pin.key} ${l.pin.version}`, { key: l.pin.key, stable: l.pin.version });
  return [...out.values()];
}

describe('rollout line plan', () => {
  test('the default community Pythons of stable/2025.2 come from its markers: 3.9 to 3.13', () => {
    expect(PY_2025_2).toEqual(['3.9', '3.10', '3.11', '3.12', '3.13']);
    expect(communityPythons(parseConstraints(read('upper-constraints.txt')), null)).toEqual(['3.10', '3.11', '3.12', '3.13']);
    expect(communityPythons(F_2025_2, ['3.12', '3.10'])).toEqual(['3.10', '3.12']);
  });

  test('a library pinned per Python: only the line at the stable moves, the py3.9 line stays byte-identical', () => {
    const plan = planLines(F_2025_2, spec({ key: 'cliff', stable: '4.11.0', candidate: '4.12.0' }));
    expect(plan.candidate).toEqual([{ index: 246, before: "cliff===4.11.0;python_version>='3.10'", after: ["cliff===4.12.0;python_version>='3.10'"] }]);
    expect(plan.control).toEqual([]);
    const out = applyLineChanges(F_2025_2, plan.candidate);
    expect(versionsOn(out, 'cliff', '3.9')).toEqual(['4.9.1']);
    expect(versionsOn(out, 'cliff', '3.12')).toEqual(['4.12.0']);
  });

  test('a release that drops a Python is split exactly as the release team split cliff 4.10.0 by hand', () => {
    const before = parseConstraints(read('upper-constraints-before-cliff-split.txt'));
    const pythons = communityPythons(before, null);
    const plan = planLines(before, { key: 'cliff', stable: '4.9.1', candidate: '4.10.0', pythons, candidateRequiresPython: '>=3.10', stableRequiresPython: '>=3.9' });
    expect(plan.kept).toEqual(['3.9']);
    expect(applyLineChanges(before, plan.candidate)).toBe(read('upper-constraints-cliff-split.txt'));
  });

  test('a split keeps the file spelling, ===/== and the line\'s comment, and marks runs in the repository\'s style', () => {
    const f = parseConstraints('Foo.Bar==1.0  # pinned\nsix===1.16.0\r\n');
    const plan = planLines(f, { key: 'foo-bar', stable: '1.0', candidate: '2.0', pythons: ['3.9', '3.10', '3.11', '3.12'], candidateRequiresPython: '>=3.11', stableRequiresPython: null });
    expect(plan.candidate[0]!.after).toEqual([
      "Foo.Bar==1.0;python_version>='3.9' and python_version<'3.11'  # pinned",
      "Foo.Bar==2.0;python_version>='3.11'  # pinned",
    ]);
    // A candidate capped below the newest Python keeps the stable above it.
    const capped = planLines(f, { key: 'foo-bar', stable: '1.0', candidate: '2.0', pythons: ['3.10', '3.11', '3.12'], candidateRequiresPython: '<3.12', stableRequiresPython: null });
    expect(capped.candidate[0]!.after).toEqual([
      "Foo.Bar==2.0;python_version>='3.10' and python_version<'3.12'  # pinned",
      "Foo.Bar==1.0;python_version>='3.12'  # pinned",
    ]);
  });

  test('a marker with other variables keeps them on each split line', () => {
    const f = parseConstraints("xattr===1.0;sys_platform!='win32'\n");
    const plan = planLines(f, { key: 'xattr', stable: '1.0', candidate: '2.0', pythons: ['3.9', '3.10'], candidateRequiresPython: '>=3.10', stableRequiresPython: null });
    expect(plan.candidate[0]!.after).toEqual([
      "xattr===1.0;sys_platform!='win32' and python_version=='3.9'",
      "xattr===2.0;sys_platform!='win32' and python_version>='3.10'",
    ]);
  });

  test('a Python the stable does not support either is no reason to split', () => {
    const f = parseConstraints('a===1.0\n');
    const plan = planLines(f, { key: 'a', stable: '1.0', candidate: '2.0', pythons: ['3.9', '3.10'], candidateRequiresPython: '>=3.10', stableRequiresPython: '>=3.10' });
    expect(plan.kept).toEqual([]);
    expect(plan.candidate[0]!.after).toEqual(['a===2.0']);
  });

  test('the base already pins the candidate (the bump merged first): the control gets the stable explicitly', () => {
    const f = parseConstraints("cliff===4.9.1;python_version=='3.9'\ncliff===4.10.0;python_version>='3.10'\n");
    const plan = planForNewRollout(f, { key: 'cliff', library: 'cliff', branch: 'master', stable: '4.9.1', candidate: '4.10.0', pythons: PY_2025_2, candidateRequiresPython: '>=3.10', stableRequiresPython: null });
    expect(plan.candidate).toEqual([]);
    expect(plan.control).toEqual([{ index: 1, before: "cliff===4.10.0;python_version>='3.10'", after: ["cliff===4.9.1;python_version>='3.10'"] }]);
  });

  test('a stable the base does not pin is refused with the base pins named', () => {
    const s = { library: 'cliff', branch: 'stable/2025.2', pythons: PY_2025_2, candidateRequiresPython: null, stableRequiresPython: null };
    expect(() => planForNewRollout(F_2025_2, { ...s, key: 'cliff', stable: '4.10.0', candidate: '4.12.0' })).toThrow(
      "stable 4.10.0 is not what stable/2025.2 pins for cliff: the base has cliff===4.9.1;python_version=='3.9' and cliff===4.11.0;python_version>='3.10'; give the pinned version as stable",
    );
    expect(() => planForNewRollout(F_2025_2, { ...s, key: 'no-such-lib', stable: '1.0', candidate: '2.0' })).toThrow(/not pinned in the stable\/2025.2 constraints/);
    expect(() => planForNewRollout(F_2025_2, { ...s, key: 'cliff', stable: '4.9.1', candidate: '5.0.0', candidateRequiresPython: '>=3.10' })).toThrow(/supports none of the Pythons \(3.9\)/);
  });

  test('the default stable is the version of the lines for the newest Python', () => {
    expect(defaultStable(F_2025_2, 'cliff', PY_2025_2)).toBe('4.11.0');
    expect(defaultStable(F_2025_2, 'oslo.log', PY_2025_2)).toBe('7.2.1');
    expect(defaultStable(F_2025_2, 'no-such', PY_2025_2)).toBeNull();
  });

  test('property, every library of stable/2025.2: the candidate file changes only lines at the stable, and reverting gives the original bytes', () => {
    const all = stables(F_2025_2);
    expect(new Set(all.map((s) => s.key)).size).toBe(F_2025_2.index.size); // every library (572), each version it is pinned at
    const requires = fc.constantFrom(null, '>=3.9', '>=3.10', '>=3.11', '>=3.10,<3.13', '!=3.11.*');
    // The mutation run (test/support/mutation-setup.ts) checks every 4th marker-split library and
    // every 25th of the others: a mutant of the line plan is killed by either, at a 20th of the cost.
    const sample = process.env.DEPCANARY_MUTATION ? all.filter(({ key }, i) => (F_2025_2.index.get(key)!.length > 1 && i % 4 === 0) || i % 25 === 0) : all;
    for (const { key, stable } of sample) {
      fc.assert(fc.property(requires, (req) => {
        const candidate = bump(stable);
        const plan = planLines(F_2025_2, spec({ key, stable, candidate, candidateRequiresPython: req }));
        const out = applyLineChanges(F_2025_2, plan.candidate);
        const parsed = parseConstraints(out);
        const changes = diffConstraints(F_2025_2, parsed);
        // Only this library changed, and only its lines at the stable.
        expect(changes.map((c) => c.key)).toEqual(plan.candidate.length ? [key] : []);
        for (const c of plan.candidate) expect(F_2025_2.lines[c.index]!.pin!.version).toBe(stable);
        // Each Python gets the candidate where the candidate supports it and the stable's line held, the old version elsewhere.
        for (const py of PY_2025_2) {
          const was = versionsOn(F_2025_2, key, py);
          const now = versionsOn(parsed, key, py);
          const served = !plan.kept.includes(py);
          expect(now).toEqual(was.map((v) => (v === stable && served ? candidate : v)));
        }
        // Rollback after promotion: the candidate lines go back to exactly the original bytes.
        const back = revertLineChanges(out, plan.candidate);
        expect(back.missing).toEqual([]);
        expect(back.text).toBe(UC_2025_2);
      }), { numRuns: 1 });
    }
  });

  test('property: the control arm of a merged bump gets the stable on exactly the lines at the candidate', () => {
    for (const { key, stable } of stables(F_2025_2).slice(0, process.env.DEPCANARY_MUTATION ? 40 : 200)) {
      const candidate = stable;
      const older = '0.0.1';
      const plan = planLines(F_2025_2, spec({ key, stable: older, candidate }));
      const out = applyLineChanges(F_2025_2, plan.control);
      const parsed = parseConstraints(out);
      for (const c of plan.control) expect(F_2025_2.lines[c.index]!.pin!.version).toBe(candidate);
      for (const py of PY_2025_2) {
        expect(versionsOn(parsed, key, py)).toEqual(versionsOn(F_2025_2, key, py).map((v) => (v === candidate ? older : v)));
      }
      expect(revertLineChanges(out, plan.control).text).toBe(UC_2025_2);
    }
  });

  test('diffConstraints reads a merged bump: the cliff split as one library change', () => {
    const changes = diffConstraints(parseConstraints(read('upper-constraints-before-cliff-split.txt')), parseConstraints(read('upper-constraints-cliff-split.txt')));
    expect(changes).toEqual([{
      key: 'cliff', name: 'cliff',
      before: [{ index: 250, text: 'cliff===4.9.1', version: '4.9.1', marker: null }],
      after: [
        { index: 250, text: "cliff===4.9.1;python_version=='3.9'", version: '4.9.1', marker: "python_version=='3.9'" },
        { index: 251, text: "cliff===4.10.0;python_version>='3.10'", version: '4.10.0', marker: "python_version>='3.10'" },
      ],
      stable: ['4.9.1'], candidate: ['4.9.1', '4.10.0'],
    }]);
    // ... and reverting it is putting the before lines back.
    const after = parseConstraints(read('upper-constraints-cliff-split.txt'));
    expect(replaceLibraryLines(after, 'cliff', changes[0]!.before.map((l) => l.text))).toBe(read('upper-constraints-before-cliff-split.txt'));
  });
});
