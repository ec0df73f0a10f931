/** Branch names of the constraints repository and how a request's branch or series resolves. */
import fc from 'fast-check';
import {
  MASTER, assertBranchName, branchOfFileName, isBranchName, resolveBranch, unknownBranchMessage,
} from '../../server/domain/branches';
import { DomainError } from '../../server/domain/errors';

// What openstack/requirements has had: release ids, series names, both stable and unmaintained.
const SERVED = new Set(['master', 'stable/2025.1', 'stable/2025.2', 'stable/2026.1', 'unmaintained/zed', 'unmaintained/2023.1', 'stable/zed']);
const COMMIT = '3f1c2a9e0b7d4c5e6f708192a3b4c5d6e7f80912';

const seriesArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,39}$/).filter((s) => s !== MASTER && !/^[0-9a-f]{40}$/.test(s));

describe('isBranchName / assertBranchName', () => {
  test('master, stable/<series> and unmaintained/<series> only', () => {
    expect(MASTER).toBe('master');
    for (const b of ['master', 'stable/2025.2', 'unmaintained/zed', 'stable/2023.1', 'unmaintained/victoria', 'stable/0', 'stable/a._-'])
      expect([b, isBranchName(b)]).toEqual([b, true]);
    for (const b of ['', 'main', 'Master', 'master ', ' master', 'stable/', 'stable', 'stable/2025.2/x', 'unmaintained/', 'feature/foo',
      'stable/Zed', 'stable/.zed', 'stable/-zed', 'stable/_zed', 'stable/zed\n', 'refs/heads/master', 'stable//zed', 'eol/zed', 'masterx', 'xmaster', 'stable/zed;rm'])
      expect([b, isBranchName(b)]).toEqual([b, false]);
  });

  test('series part: 40 characters at most', () => {
    expect(isBranchName('stable/' + 'z'.repeat(40))).toBe(true);
    expect(isBranchName('stable/' + 'z'.repeat(41))).toBe(false);
    expect(isBranchName('unmaintained/' + 'z'.repeat(40))).toBe(true);
    expect(isBranchName('unmaintained/' + 'z'.repeat(41))).toBe(false);
  });

  test('a bad name is an invalid-input error naming the field, the value cut at 60 characters', () => {
    expect(() => assertBranchName('stable/2025.2')).not.toThrow();
    expect(() => assertBranchName('master', 'base')).not.toThrow();
    expect(() => assertBranchName('main')).toThrow('branch "main" is not master, stable/<series> or unmaintained/<series>');
    const long = 'x'.repeat(59) + 'YZ';
    let err: unknown;
    try {
      assertBranchName(long, 'targetBranch');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('invalid');
    expect((err as DomainError).details).toEqual({ field: 'targetBranch' });
    expect((err as DomainError).message).toBe(`targetBranch "${'x'.repeat(59)}Y" is not master, stable/<series> or unmaintained/<series>`);
  });

  test('property: assertBranchName throws exactly when isBranchName is false', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), seriesArb.map((s) => `stable/${s}`), seriesArb.map((s) => `unmaintained/${s}`)), (b) => {
      let threw = false;
      try {
        assertBranchName(b);
      } catch {
        threw = true;
      }
      expect(threw).toBe(!isBranchName(b));
    }));
  });
});

describe('resolveBranch', () => {
  test('empty, missing or "master" means master when it is served', () => {
    for (const r of [null, undefined, '', '   ', 'master', ' master\t']) expect(resolveBranch(r, SERVED)).toBe('master');
    for (const r of [null, undefined, '', 'master']) expect(resolveBranch(r, new Set(['stable/2025.2']))).toBeNull();
  });

  test('a full branch name matches only itself', () => {
    expect(resolveBranch('stable/2025.2', SERVED)).toBe('stable/2025.2');
    expect(resolveBranch('  unmaintained/zed ', SERVED)).toBe('unmaintained/zed');
    expect(resolveBranch('stable/2024.2', SERVED)).toBeNull();
    // named in full: no fallback to the other kind
    expect(resolveBranch('unmaintained/2025.2', SERVED)).toBeNull();
    expect(resolveBranch('stable/2023.1', SERVED)).toBeNull();
  });

  test('a series means stable/<series>, then unmaintained/<series>', () => {
    expect(resolveBranch('2025.2', SERVED)).toBe('stable/2025.2');
    expect(resolveBranch('zed', SERVED)).toBe('stable/zed'); // both served: stable first
    expect(resolveBranch('zed', new Set(['unmaintained/zed']))).toBe('unmaintained/zed');
    expect(resolveBranch('2023.1', SERVED)).toBe('unmaintained/2023.1');
    expect(resolveBranch(' 2026.1 ', SERVED)).toBe('stable/2026.1');
    expect(resolveBranch('2024.1', SERVED)).toBeNull();
  });

  test('commit ids, bad series and hostile input resolve to nothing', () => {
    const servedOdd = new Set([`stable/${COMMIT}`, 'stable/Zed', 'stable/../x', `stable/${'z'.repeat(41)}`]);
    expect(resolveBranch(COMMIT, servedOdd)).toBeNull();
    expect(resolveBranch('Zed', servedOdd)).toBeNull();
    expect(resolveBranch('../x', servedOdd)).toBeNull();
    expect(resolveBranch('z'.repeat(41), servedOdd)).toBeNull();
    expect(resolveBranch('z'.repeat(40), new Set([`stable/${'z'.repeat(40)}`]))).toBe(`stable/${'z'.repeat(40)}`);
    // 39 hex digits is not a commit id: a series
    expect(resolveBranch(COMMIT.slice(1), new Set([`stable/${COMMIT.slice(1)}`]))).toBe(`stable/${COMMIT.slice(1)}`);
    for (const r of ['feature/foo', 'stable/', '.zed', '-zed', 'zed/x', 'zed\u0000', 'stable/zed\nmaster', 'MASTER'])
      expect([r, resolveBranch(r, SERVED)]).toEqual([r, null]);
  });

  test('property: the result is null or a served branch, and a served series resolves to its stable branch', () => {
    const servedArb = fc.array(fc.oneof(fc.constant(MASTER), seriesArb.map((s) => `stable/${s}`), seriesArb.map((s) => `unmaintained/${s}`)), { maxLength: 6 })
      .map((bs) => new Set(bs));
    fc.assert(fc.property(fc.oneof(fc.string(), seriesArb, fc.constant(MASTER)), servedArb, (r, served) => {
      const got = resolveBranch(r, served);
      if (got !== null) expect(served.has(got)).toBe(true);
    }));
    fc.assert(fc.property(seriesArb, fc.boolean(), (s, alsoUnmaintained) => {
      const served = new Set([`stable/${s}`, ...(alsoUnmaintained ? [`unmaintained/${s}`] : [])]);
      expect(resolveBranch(s, served)).toBe(`stable/${s}`);
      expect(resolveBranch(s, new Set([`unmaintained/${s}`]))).toBe(`unmaintained/${s}`);
      expect(resolveBranch(s, new Set([MASTER]))).toBeNull();
    }));
  });
});

describe('unknownBranchMessage', () => {
  test('names the request and the served branches, sorted', () => {
    expect(unknownBranchMessage(' 2024.1 ', new Set(['stable/2025.2', 'master', 'stable/2025.1']))).toBe(
      'no constraints for branch "2024.1" (served: master, stable/2025.1, stable/2025.2; a series like 2025.2 means stable/2025.2, then unmaintained/2025.2)');
    expect(unknownBranchMessage('zed', new Set())).toBe(
      'no constraints for branch "zed" (served: none; a series like 2025.2 means stable/2025.2, then unmaintained/2025.2)');
  });

  test('a commit id gets its own sentence', () => {
    expect(unknownBranchMessage(COMMIT, new Set(['master']))).toBe('constraints at a commit id are not served; served branches: master');
    expect(unknownBranchMessage(` ${COMMIT}\n`, new Set())).toBe('constraints at a commit id are not served; served branches: none');
    expect(unknownBranchMessage(COMMIT.toUpperCase(), new Set())).toMatch(/^no constraints for branch "3F1C/);
  });

  test('the request is cut at 80 characters', () => {
    const long = 'q'.repeat(79) + 'RS';
    expect(unknownBranchMessage(long, new Set(['master']))).toBe(
      `no constraints for branch "${'q'.repeat(79)}R" (served: master; a series like 2025.2 means stable/2025.2, then unmaintained/2025.2)`);
  });
});

describe('branchOfFileName', () => {
  test('the file names data/ ships', () => {
    expect(branchOfFileName('upper-constraints-stable-2025.2.txt')).toBe('stable/2025.2');
    expect(branchOfFileName('upper-constraints-stable-2026.1.txt')).toBe('stable/2026.1');
    expect(branchOfFileName('upper-constraints-unmaintained-zed.txt')).toBe('unmaintained/zed');
    expect(branchOfFileName('upper-constraints-unmaintained-2023.1.txt')).toBe('unmaintained/2023.1');
  });

  test('anything else is null', () => {
    for (const n of ['upper-constraints.txt', 'global-requirements.txt', 'upper-constraints-stable-.txt', 'upper-constraints-stable-2025.2.txt.bak',
      'x-upper-constraints-stable-2025.2.txt', 'upper-constraints-master-x.txt', 'upper-constraints-stable-Zed.txt', 'upper-constraints-stable-2025.2.TXT',
      'upper-constraints-stable-../x.txt', `upper-constraints-stable-${'z'.repeat(41)}.txt`, 'upper-constraints-eol-zed.txt'])
      expect([n, branchOfFileName(n)]).toEqual([n, null]);
    expect(branchOfFileName(`upper-constraints-stable-${'z'.repeat(40)}.txt`)).toBe(`stable/${'z'.repeat(40)}`);
  });

  test('property: every file name it accepts gives a valid branch name', () => {
    fc.assert(fc.property(fc.constantFrom('stable', 'unmaintained'), seriesArb, (kind, s) => {
      const b = branchOfFileName(`upper-constraints-${kind}-${s}.txt`);
      expect(b).toBe(`${kind}/${s}`);
      expect(isBranchName(b!)).toBe(true);
    }));
  });
});
