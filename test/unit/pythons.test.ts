/** Python X.Y versions, Requires-Python, and the community's Pythons of a branch. */
import fc from 'fast-check';
import { parseConstraints } from '../../server/domain/constraints';
import { DomainError } from '../../server/domain/errors';
import {
  DEFAULT_PYTHONS, MAX_REQUIRES_PYTHON_LENGTH, communityPythons, comparePython, isPython, nextMinor,
  normalizeRequiresPython, pythonsNamedBy, sortPythons, supportsPython,
} from '../../server/domain/pythons';

const pyArb = fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 998 })).map(([m, n]) => `${m}.${n}`);
const py3Arb = fc.integer({ min: 0, max: 40 }).map((n) => `3.${n}`);

/** Lines as upper-constraints-stable-2025.1.txt has them (a 3.9 / 3.10 marker split). */
const STABLE_2025_1 = [
  'alabaster===0.7.16;python_version==\'3.9\'',
  'alabaster===1.0.0;python_version>=\'3.10\'',
  'backports.strenum===1.3.1;python_version==\'3.10\'',
  'oslo.config===9.7.1',
  'Pint===0.23;python_version==\'3.9\'',
  'Pint===0.24.4;python_version>=\'3.10\'',
  '',
].join('\n');

function errorOf(f: () => unknown): DomainError {
  try {
    f();
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected an error');
}

describe('X.Y versions', () => {
  test('DEFAULT_PYTHONS', () => {
    expect(DEFAULT_PYTHONS).toEqual(['3.10', '3.11', '3.12', '3.13']);
  });

  test('isPython: one or two digits, a dot, one to three digits', () => {
    for (const v of ['3.9', '3.10', '3.13', '2.7', '10.0', '99.999', '0.0']) expect([v, isPython(v)]).toEqual([v, true]);
    for (const v of ['3', '3.', '.9', '3.9.1', '3.1000', '100.1', 'py3.12', '3.12 ', ' 3.12', '3,12', '3.x', '', '3.12\n', 'v3.12', '３.12'])
      expect([v, isPython(v)]).toEqual([v, false]);
  });

  test('comparePython: numeric by major then minor', () => {
    expect(comparePython('3.9', '3.10')).toBe(-1);
    expect(comparePython('3.10', '3.9')).toBe(1);
    expect(comparePython('3.12', '3.12')).toBe(0);
    expect(comparePython('2.7', '3.0')).toBe(-1);
    expect(comparePython('4.0', '3.13')).toBe(1);
    expect(comparePython('3.13', '3.100')).toBe(-87);
    expect(comparePython('3.10', '3.1')).toBe(9);
    // not X.Y: ranks as 0.0
    expect(comparePython('x', '3.1')).toBe(-3);
    expect(comparePython('3.1', 'x')).toBe(3);
    expect(comparePython('x', '0.0')).toBe(0);
  });

  test('sortPythons: numeric order, duplicates dropped', () => {
    expect(sortPythons(['3.13', '3.9', '3.10', '3.9', '3.12', '3.11', '2.7'])).toEqual(['2.7', '3.9', '3.10', '3.11', '3.12', '3.13']);
    expect(sortPythons([])).toEqual([]);
    expect(sortPythons(new Set(['3.1', '3.10']))).toEqual(['3.1', '3.10']);
  });

  test('nextMinor', () => {
    expect(nextMinor('3.13')).toBe('3.14');
    expect(nextMinor('3.9')).toBe('3.10');
    expect(nextMinor('3.99')).toBe('3.100');
    expect(nextMinor('2.7')).toBe('2.8');
    expect(nextMinor('10.0')).toBe('10.1');
    expect(nextMinor('garbage')).toBe('3.1');
  });

  test('properties: order is total and numeric; sorting is idempotent; nextMinor is the next one', () => {
    fc.assert(fc.property(pyArb, pyArb, (a, b) => {
      expect(Math.sign(comparePython(a, b))).toBe(-Math.sign(comparePython(b, a)));
      const [am, an] = a.split('.').map(Number) as [number, number];
      const [bm, bn] = b.split('.').map(Number) as [number, number];
      expect(Math.sign(comparePython(a, b))).toBe(Math.sign(am !== bm ? am - bm : an - bn));
      expect(comparePython(a, b) === 0).toBe(a === b);
    }));
    fc.assert(fc.property(fc.array(pyArb, { maxLength: 20 }), (vs) => {
      const s = sortPythons(vs);
      expect(sortPythons(s)).toEqual(s);
      expect(new Set(s)).toEqual(new Set(vs));
      for (let i = 1; i < s.length; i++) expect(comparePython(s[i - 1]!, s[i]!)).toBeLessThan(0);
    }));
    fc.assert(fc.property(pyArb, (v) => {
      const n = nextMinor(v);
      expect(comparePython(n, v)).toBe(1);
      expect(n.split('.')[0]).toBe(v.split('.')[0]);
    }));
  });
});

describe('normalizeRequiresPython', () => {
  test('none declared: null, undefined, empty, blank', () => {
    for (const v of [null, undefined, '', '   ', '\t\n']) expect(normalizeRequiresPython(v)).toBeNull();
  });

  test('real Requires-Python values are kept, trimmed, spacing inside kept', () => {
    for (const v of ['>=3.9', '>=3.10', '>=3.8, <4', '<4.0,>=3.8.1', '!=3.11.*,>=3.9', '~=3.10', '==3.*', '>3', '===3.10', '>= 3.10',
      '>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*'])
      expect(normalizeRequiresPython(v)).toBe(v);
    expect(normalizeRequiresPython('  >=3.10\n')).toBe('>=3.10');
  });

  test('what is not a specifier is refused, naming the field and the value', () => {
    for (const v of ['3.10', 'latest', '>=3.10,', '>=3.10,,<4', '>=3.10;', '>=3.10 <4', '>=3.6.*', '>=3.10; rm -rf /'])
      expect(() => normalizeRequiresPython(v)).toThrow(`requiresPython "${v.trim()}" is not a PEP 440 specifier like ">=3.10"`);
    const e = errorOf(() => normalizeRequiresPython('python3', 'Requires-Python of x.whl'));
    expect(e.message).toBe('Requires-Python of x.whl "python3" is not a PEP 440 specifier like ">=3.10"');
    expect(e.code).toBe('invalid');
    expect(e.details).toEqual({ field: 'Requires-Python of x.whl' });
    expect(() => normalizeRequiresPython('x'.repeat(100))).toThrow(`requiresPython "${'x'.repeat(80)}" is not a PEP 440 specifier like ">=3.10"`);
  });

  test('length: 200 characters after trimming pass, 201 do not', () => {
    expect(MAX_REQUIRES_PYTHON_LENGTH).toBe(200);
    const at = '>=3.1' + '0'.repeat(195);
    expect(at).toHaveLength(200);
    expect(normalizeRequiresPython(at)).toBe(at);
    expect(normalizeRequiresPython(`  ${at}  `)).toBe(at);
    const e = errorOf(() => normalizeRequiresPython(at + '0', 'rp'));
    expect(e.message).toBe('rp is longer than 200 characters');
    expect(e.details).toEqual({ field: 'rp' });
  });
});

describe('supportsPython', () => {
  test('X.Y is X.Y.0 against real specifiers', () => {
    const cases: [string | null, string, boolean][] = [
      [null, '2.7', true],
      ['>=3.10', '3.9', false], ['>=3.10', '3.10', true], ['>=3.10', '3.13', true],
      ['>3.10', '3.10', false], ['>3.10', '3.11', true],
      ['<3.13', '3.13', false], ['<3.13', '3.12', true], ['<=3.12', '3.12', true],
      ['>=3.10,<3.13', '3.13', false], ['>=3.10, <3.13', '3.12', true],
      ['>= 3.10 , < 3.13', '3.12', true],
      ['~=3.10', '3.13', true], ['~=3.10', '4.0', false], ['~=3.10', '3.9', false],
      ['==3.*', '3.9', true], ['==3.*', '4.0', false],
      ['==3.12', '3.12', true], ['!=3.12', '3.12', false], ['!=3.11.*,>=3.9', '3.11', false], ['!=3.11.*,>=3.9', '3.12', true],
      ['>=3.9.2', '3.9', false],
      ['>=3.10.0rc1', '3.10', true],
      ['<4', '3.13', true],
    ];
    for (const [spec, py, want] of cases) expect([spec, py, supportsPython(spec, py)]).toEqual([spec, py, want]);
  });

  test('property: >=3.X admits 3.Y exactly when Y >= X; <3.X exactly when Y < X', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), (x, y) => {
      expect(supportsPython(`>=3.${x}`, `3.${y}`)).toBe(y >= x);
      expect(supportsPython(`<3.${x}`, `3.${y}`)).toBe(y < x);
      expect(supportsPython(`>=3.${x}, <3.${x + 1}`, `3.${y}`)).toBe(y === x);
    }));
  });
});

describe('pythonsNamedBy', () => {
  test('the python_version literals of a real marker split', () => {
    expect(pythonsNamedBy(parseConstraints(STABLE_2025_1))).toEqual(['3.9', '3.10']);
  });

  test('both sides, both quotes, inside and/or; other variables and other literals ignored', () => {
    const file = parseConstraints([
      "a===1;'3.8' == python_version",
      'b===1;sys_platform==\'win32\' and python_version<"3.11"',
      "c===1;python_version>='3.12' or platform_machine=='aarch64'",
      "d===1;python_full_version>='3.9.2'",
      "e===1;sys_platform!='win32'",
      "f===1;python_version=='3.9.1'",
      "g===1;python_version=='2.7'",
      "h===1",
      '# python_version==\'3.7\' in a comment',
      "i===1;'3.8' == python_version",
    ].join('\n'));
    expect(pythonsNamedBy(file)).toEqual(['2.7', '3.8', '3.11', '3.12']);
  });

  test('no markers: none', () => {
    expect(pythonsNamedBy(parseConstraints(''))).toEqual([]);
    expect(pythonsNamedBy(parseConstraints('oslo.config===9.7.1\npbr===6.1.1\n'))).toEqual([]);
  });

  test('a literal that is not an X.Y Python is not one (it would start a bogus range)', () => {
    const file = parseConstraints("a===1;python_version=='3.99999'\nb===1;python_version>='3.10'\nc===1;python_version=='3.1000'\n");
    expect(pythonsNamedBy(file)).toEqual(['3.10']);
    expect(communityPythons(file, null)).toEqual(['3.10', '3.11', '3.12', '3.13']);
  });
});

describe('communityPythons', () => {
  test('a setting wins, sorted and deduplicated', () => {
    const file = parseConstraints(STABLE_2025_1);
    expect(communityPythons(file, ['3.12', '3.11', '3.12'])).toEqual(['3.11', '3.12']);
    expect(communityPythons(file, ['3.13'])).toEqual(['3.13']);
  });

  test('no setting (null or empty): from the lowest named (or default) up to the highest', () => {
    expect(communityPythons(parseConstraints(STABLE_2025_1), null)).toEqual(['3.9', '3.10', '3.11', '3.12', '3.13']);
    expect(communityPythons(parseConstraints(STABLE_2025_1), [])).toEqual(['3.9', '3.10', '3.11', '3.12', '3.13']);
    expect(communityPythons(parseConstraints('oslo.config===9.7.1\n'), null)).toEqual(['3.10', '3.11', '3.12', '3.13']);
    expect(communityPythons(parseConstraints("x===1;python_version=='3.15'\n"), null)).toEqual(['3.10', '3.11', '3.12', '3.13', '3.14', '3.15']);
    // a gap in the markers is filled
    expect(communityPythons(parseConstraints("x===1;python_version=='3.7'\n"), null)).toEqual(['3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']);
  });

  test('Python 2 markers do not pull the range down', () => {
    expect(communityPythons(parseConstraints("x===1;python_version=='2.7'\ny===2;python_version>='3.9'\n"), null)).toEqual(['3.9', '3.10', '3.11', '3.12', '3.13']);
  });

  test('property: contiguous minors covering the defaults and every named 3.x', () => {
    fc.assert(fc.property(fc.array(py3Arb, { maxLength: 5 }), (named) => {
      const text = named.map((v, i) => `p${i}===1.0;python_version>='${v}'`).join('\n');
      const got = communityPythons(parseConstraints(text), null);
      for (const v of [...DEFAULT_PYTHONS, ...named]) expect(got).toContain(v);
      for (let i = 1; i < got.length; i++) expect(got[i]).toBe(nextMinor(got[i - 1]!));
      expect(got[0]).toBe(sortPythons([...DEFAULT_PYTHONS, ...named])[0]);
      expect(got[got.length - 1]).toBe(sortPythons([...DEFAULT_PYTHONS, ...named]).at(-1));
    }));
  });
});
