import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describePins, MAX_LINE_LENGTH, parseConstraints, pinnedVersion, pinsOf, renderConstraints } from '../../server/domain/constraints';

const FIXTURES = join(__dirname, '../fixtures');
const UC = readFileSync(join(FIXTURES, 'upper-constraints.txt'), 'utf8');
const UC_2025_2 = readFileSync(join(FIXTURES, 'upper-constraints-stable-2025.2.txt'), 'utf8');

describe('constraints', () => {
  test('the real master and stable/2025.2 files round-trip byte for byte', () => {
    for (const text of [UC, UC_2025_2]) {
      const f = parseConstraints(text);
      expect(renderConstraints(f)).toBe(text);
      expect(f.index.size).toBeGreaterThan(500);
    }
  });

  test('names compare by PEP 503, the file spelling is kept', () => {
    const f = parseConstraints('Oslo.Log===6.0.0\nPasteDeploy===3.1.0\n');
    expect(pinnedVersion(f, 'oslo_log')).toBe('6.0.0');
    expect(pinnedVersion(f, 'pastedeploy')).toBe('3.1.0');
    expect(pinsOf(f, 'oslo-log')[0]!.name).toBe('Oslo.Log');
  });

  test('marker lines: marker, separator, comment and operator are read as written', () => {
    const f = parseConstraints("# c\nnumpy===1.26.4;python_version=='3.9'\r\n\nnumpy == 2.0 ; python_version >= '3.10'  # why\nsix===1.16.0");
    const [a, b] = pinsOf(f, 'numpy');
    expect(a).toMatchObject({ op: '===', version: '1.26.4', marker: "python_version=='3.9'", markerSep: ';', comment: '' });
    expect(b).toMatchObject({ op: '==', version: '2.0', marker: "python_version >= '3.10'", markerSep: ' ; ', comment: '  # why' });
    expect(f.lines[1]!.eol).toBe('\r\n');
    expect(f.lines[4]!.eol).toBe('');
  });

  test('disagreeing marker lines make the single pinned version ambiguous', () => {
    const f = parseConstraints("a===1.0;python_version<'3.10'\na===2.0;python_version>='3.10'\n");
    expect(() => pinnedVersion(f, 'a')).toThrow(/several versions/);
    expect(describePins(f, 'a')).toBe("a===1.0;python_version<'3.10' and a===2.0;python_version>='3.10'");
  });

  test('bad lines are rejected with their line number', () => {
    expect(() => parseConstraints('six===1.16.0\nthis is not a pin\n')).toThrow(/line 2/);
    expect(() => parseConstraints('six===not-a-version\n')).toThrow(/PEP 440/);
    expect(() => parseConstraints('six-===1.0\n')).toThrow(/no valid name/);
    expect(() => parseConstraints("six===1.0;python_version=~'3'\n")).toThrow(/line 1: .*not a PEP 508 environment marker/);
    expect(() => parseConstraints("six===1.0;pyversion=='3'\n")).toThrow(/not a PEP 508 environment marker/);
    expect(() => parseConstraints('six===1.0 extra\n')).toThrow(/unexpected text/);
  });

  test('a 150 KB line is refused at once, whatever it holds (linear-time parser)', () => {
    const hostile = [
      `a===1${' '.repeat(150_000)}x`,
      `a===1 ${'\t '.repeat(75_000)}!`,
      `a===1;${"python_version=='3' and ".repeat(6000)}`,
      `${'a'.repeat(150_000)}===1`,
    ];
    for (const line of hostile) {
      expect(() => parseConstraints(`six===1.16.0\n${line}\n`)).toThrow(`constraints line 2 is ${line.length} characters long; the limit is ${MAX_LINE_LENGTH}`);
    }
  });

  // The parser is a single left-to-right scan (no backtracking regex), so these finish at once;
  // a quadratic or backtracking regression would hit the test timeout. Speed itself is the
  // benchmarks' business, never a timing assertion here.
  test('lines at the limit with the worst whitespace patterns are refused', () => {
    const pad = MAX_LINE_LENGTH - 20;
    for (let i = 0; i < 50; i++) {
      expect(() => parseConstraints(`a===1${' '.repeat(pad)}x\n`)).toThrow(/unexpected text/);
      expect(() => parseConstraints(`a===1 ${'\t '.repeat(pad / 2)}!\n`)).toThrow(/unexpected text/);
    }
  });

  test('property: any file of comments, blanks and pins round-trips', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,10}[A-Za-z0-9]$/);
    const version = fc.tuple(fc.nat(30), fc.nat(30), fc.nat(30)).map((v) => v.join('.'));
    const line = fc.oneof(
      fc.tuple(name, version, fc.constantFrom('', ";python_version>='3.10'", ' ; sys_platform == "win32"', '  # pinned')).map(([n, v, m]) => `${n}===${v}${m}`),
      fc.stringMatching(/^#[^\r\n]{0,30}$/),
      fc.constantFrom('', '   ', '-c other.txt'),
    );
    const eol = fc.constantFrom('\n', '\r\n');
    fc.assert(fc.property(fc.array(fc.tuple(line, eol), { maxLength: 30 }), fc.boolean(), (ls, lastEol) => {
      let text = ls.map(([l, e]) => l + e).join('');
      if (!lastEol && text.endsWith('\n')) text = text.replace(/\r?\n$/, '');
      expect(renderConstraints(parseConstraints(text))).toBe(text);
    }));
  });
});
